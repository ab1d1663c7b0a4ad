public import HarepostRPC

/// The RPC services the gateway forwards to, one multiplexed client each,
/// by backend name (`auth`, `store`, …; see ``RouteMap``).
public struct GatewayBackends: Sendable {
    public let auth: RPCClient
    public let store: RPCClient
    /// Asked only for its metrics (no public route calls it yet), so it is
    /// optional and not part of readiness.
    public let dispatcher: RPCClient?

    public init(auth: RPCClient, store: RPCClient, dispatcher: RPCClient? = nil) {
        self.auth = auth
        self.store = store
        self.dispatcher = dispatcher
    }

    public var names: Set<String> { Set(all.map(\.name)) }

    /// The backends routes call; the gateway is ready when they all serve.
    var all: [(name: String, client: RPCClient)] { [("auth", auth), ("store", store)] }

    /// Every component process whose metrics `/metrics` merges.
    var components: [(name: String, client: RPCClient)] {
        all + (dispatcher.map { [("dispatcher", $0)] } ?? [])
    }

    /// Every client the gateway runs.
    public var clients: [RPCClient] { components.map(\.client) }

    func client(_ name: String) -> RPCClient? {
        all.first { $0.name == name }?.client
    }
}
