import CoreMetrics

/// What the RPC layer reports through swift-metrics (a Prometheus registry in
/// the harepost processes; nothing unless a metrics backend is bootstrapped).
///
/// - `harepost_rpc_server_duration_seconds{method, code}`: every call a server
///   answered (the histogram's `_count` is the number of calls).
/// - `harepost_rpc_server_in_flight`: calls being answered right now.
/// - `harepost_rpc_client_duration_seconds{method, code}`: every call a client
///   made, as the caller saw it (includes reconnecting and queueing).
enum RPCMetrics {
    static let server = MetricFamily(timer: "harepost_rpc_server_duration_seconds", dimensionNames: ["method", "code"])
    static let client = MetricFamily(timer: "harepost_rpc_client_duration_seconds", dimensionNames: ["method", "code"])
    static let serverInFlight = Gauge(label: "harepost_rpc_server_in_flight")

    static func recordServerCall(_ method: String, code: RPCCode, since start: ContinuousClock.Instant) {
        server([method, "\(code)"]).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }

    static func recordClientCall(_ method: String, code: RPCCode, since start: ContinuousClock.Instant) {
        client([method, "\(code)"]).recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }

    static func recordServerInFlight(_ count: Int) {
        serverInFlight.record(count)
    }
}
