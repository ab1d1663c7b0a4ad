import CoreMetrics
import HarepostContracts
import HarepostMetrics
import HarepostRPC
import HarepostRetryPolicy

/// What the dispatcher reports through swift-metrics.
///
/// - `harepost_delivery_attempts_total{status}`: attempts made, by the status
///   the delivery has after it (`delivered`, `retrying`, `rejected`, `dead_letter`).
/// - `harepost_delivery_attempt_duration_seconds{status}`: how long each took.
/// - `harepost_dispatcher_in_flight`: attempts under way right now.
enum DispatcherMetrics {
    static let attempts = MetricFamily<RetryPolicy.NextStatus, Counter>(
        "harepost_delivery_attempts_total",
        dimensionNames: ["status"],
        labelValues: { [$0.contract.jsonName] }
    )
    static let durations = MetricFamily<RetryPolicy.NextStatus, Timer>(
        "harepost_delivery_attempt_duration_seconds",
        dimensionNames: ["status"],
        labelValues: { [$0.contract.jsonName] }
    )
    static let inFlight = Gauge(label: "harepost_dispatcher_in_flight")

    static func recordAttempt(status: RetryPolicy.NextStatus, milliseconds: Int64) {
        attempts(status).increment()
        durations(status).recordMilliseconds(milliseconds)
    }

    static func recordInFlight(_ count: Int) {
        inFlight.record(count)
    }
}
