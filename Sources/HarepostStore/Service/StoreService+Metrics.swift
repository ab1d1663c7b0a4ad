import CoreMetrics
import Foundation

extension StoreService {
    /// Sets the queue gauges from the database; called before each metrics
    /// scrape, so they are exact when read and cost nothing in between.
    ///
    /// - `harepost_queue_pending`: deliveries not yet in a terminal status.
    /// - `harepost_queue_due`: of those, due now and not leased (the backlog).
    /// - `harepost_queue_leased`: being attempted by a dispatcher.
    public func refreshQueueMetrics() async {
        guard let depth = try? await engine.queueDepth(now: now) else { return }
        Gauge(label: "harepost_queue_pending").record(depth.pending)
        Gauge(label: "harepost_queue_due").record(depth.due)
        Gauge(label: "harepost_queue_leased").record(depth.leased)
    }
}
