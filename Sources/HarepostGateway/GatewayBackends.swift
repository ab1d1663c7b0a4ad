public import HarepostRPC

/// The RPC services the gateway forwards to, one multiplexed client each,
/// by backend name (`auth`, `store`, …; see ``RouteMap``).
public struct GatewayBackends: Sendable {
    public let auth: RPCClient
    public let store: RPCClient

    public init(auth: RPCClient, store: RPCClient) {
        self.auth = auth
        self.store = store
    }

    public var names: Set<String> { Set(all.map(\.name)) }

    var all: [(name: String, client: RPCClient)] { [("auth", auth), ("store", store)] }

    func client(_ name: String) -> RPCClient? {
        all.first { $0.name == name }?.client
    }
}
