import CoreMetrics
import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC
import Prometheus

/// This process's metrics: swift-metrics into one Prometheus registry, read
/// over the `harepost.rpc.v1.Metrics/Scrape` RPC (components) or merged into
/// the gateway's `/metrics`.
enum ProcessMetrics {
    static let registry = PrometheusCollectorRegistry()
    private static let started = Date().timeIntervalSince1970

    /// Routes swift-metrics into ``registry``; call once, before any metric is made.
    static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Sub-millisecond RPCs need finer buckets than the default 5 ms start.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// The exposition text, after `refresh` has updated gauges that are read on demand.
    static func exposition() -> String {
        Gauge(label: "process_resident_memory_bytes").record(residentMemoryBytes())
        Gauge(label: "process_start_time_seconds").record(started)
        return registry.emitToString()
    }

    /// Serves `harepost.rpc.v1.Metrics/Scrape` on `router`.
    static func register(on router: inout RPCRouter, refresh: @escaping @Sendable () async -> Void = {}) throws {
        try router.register(RPCV1.Metrics.Scrape.self) { _, _ in
            await refresh()
            var response = RPCV1.MetricsScrapeResponse()
            response.text = exposition()
            return response
        }
    }

    /// Resident set size from /proc/self/statm (0 where there is none).
    static func residentMemoryBytes() -> Int64 {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
