import CoreMetrics
import HarepostMetrics
import HarepostTime

/// What the RPC layer reports through swift-metrics (a Prometheus registry in
/// the harepost processes; nothing unless a metrics backend is bootstrapped).
///
/// - `harepost_rpc_server_duration_seconds{method, code}`: every call a server
///   answered (the histogram's `_count` is the number of calls).
/// - `harepost_rpc_server_in_flight`: calls being answered right now.
/// - `harepost_rpc_client_duration_seconds{method, code}`: every call a client
///   made, as the caller saw it (includes reconnecting and queueing).
enum RPCMetrics {
    static let server = MetricFamily<NamedStatus, Timer>(
        "harepost_rpc_server_duration_seconds",
        dimensionNames: ["method", "code"],
        labelValues: labelValues
    )
    static let client = MetricFamily<NamedStatus, Timer>(
        "harepost_rpc_client_duration_seconds",
        dimensionNames: ["method", "code"],
        labelValues: labelValues
    )
    static let serverInFlight = Gauge(label: "harepost_rpc_server_in_flight")

    static func recordServerCall(_ method: String, code: RPCCode, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        server(NamedStatus(method, status: Int(code.rawValue))).recordNanoseconds(elapsed.nanoseconds)
    }

    static func recordClientCall(_ method: String, code: RPCCode, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        client(NamedStatus(method, status: Int(code.rawValue))).recordNanoseconds(elapsed.nanoseconds)
    }

    /// The method and the code's proto name, e.g. `DEADLINE_EXCEEDED`.
    @Sendable private static func labelValues(_ key: NamedStatus) -> [String] {
        [key.name, RPCCode(rawValue: Int32(key.status)).map { "\($0)" } ?? "\(key.status)"]
    }

    static func recordServerInFlight(_ count: Int) {
        serverInFlight.record(count)
    }
}
