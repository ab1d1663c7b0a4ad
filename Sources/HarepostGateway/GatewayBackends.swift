public import HarepostRPC

/// The RPC services the gateway forwards to, one caller each (a multiplexed
/// client, or a group of them, one per event loop), by backend name (`auth`,
/// `store`, …; see ``RouteMap``).
public struct GatewayBackends: Sendable {
    public let auth: any RPCCaller
    public let store: any RPCCaller
    /// Asked only for its metrics (no public route calls it yet), so it is
    /// optional and not part of readiness.
    public let dispatcher: (any RPCCaller)?

    public init(auth: any RPCCaller, store: any RPCCaller, dispatcher: (any RPCCaller)? = nil) {
        self.auth = auth
        self.store = store
        self.dispatcher = dispatcher
    }

    public var names: Set<String> { Set(all.map(\.name)) }

    /// The backends routes call; the gateway is ready when they all serve.
    var all: [(name: String, client: any RPCCaller)] { [("auth", auth), ("store", store)] }

    /// Every component process whose metrics `/metrics` merges.
    var components: [(name: String, client: any RPCCaller)] {
        all + (dispatcher.map { [("dispatcher", $0)] } ?? [])
    }

    /// Every client the gateway runs.
    public var clients: [any RPCCaller] { components.map(\.client) }

    func client(_ name: String) -> (any RPCCaller)? {
        all.first { $0.name == name }?.client
    }
}
