import CoreMetrics

/// The HTTP layer's own metrics: open connections, connections refused
/// over the cap, and connections the gateway closed on a limit.
enum GatewayHTTPMetrics {
    /// Why the gateway closed a connection itself.
    enum CloseReason: String, CaseIterable {
        case idleTimeout = "idle_timeout"
        case headerTimeout = "header_timeout"
        case bodyTimeout = "body_timeout"
        case sendTimeout = "send_timeout"
        case drainLimit = "drain_limit"
    }

    private static let openConnections = Gauge(label: "harepost_http_open_connections")
    private static let refusedConnections = Counter(label: "harepost_http_connections_refused_total")
    private static let closedByReason = Dictionary(
        uniqueKeysWithValues: CloseReason.allCases.map { reason in
            (
                reason,
                Counter(label: "harepost_http_connections_closed_total", dimensions: [("reason", reason.rawValue)])
            )
        }
    )

    static func open(_ count: Int) {
        openConnections.record(count)
    }

    static func refused() {
        refusedConnections.increment()
    }

    static func closed(_ reason: CloseReason) {
        closedByReason[reason]?.increment()
    }
}
