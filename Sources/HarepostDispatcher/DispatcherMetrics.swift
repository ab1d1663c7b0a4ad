import CoreMetrics

/// What the dispatcher reports through swift-metrics.
///
/// - `harepost_delivery_attempts_total{status}`: attempts made, by the status
///   the delivery has after it (`delivered`, `retrying`, `rejected`, `dead_letter`).
/// - `harepost_delivery_attempt_duration_seconds{status}`: how long each took.
/// - `harepost_dispatcher_in_flight`: attempts under way right now.
enum DispatcherMetrics {
    static func recordAttempt(status: String, milliseconds: Int64) {
        Counter(label: "harepost_delivery_attempts_total", dimensions: [("status", status)]).increment()
        Timer(label: "harepost_delivery_attempt_duration_seconds", dimensions: [("status", status)])
            .recordMilliseconds(milliseconds)
    }

    static func recordInFlight(_ count: Int) {
        Gauge(label: "harepost_dispatcher_in_flight").record(count)
    }
}
