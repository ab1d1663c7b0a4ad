public import HarepostRPC

/// The RPC services the gateway forwards to, one multiplexed client each.
public struct GatewayBackends: Sendable {
    public let auth: RPCClient
    public let store: RPCClient

    public init(auth: RPCClient, store: RPCClient) {
        self.auth = auth
        self.store = store
    }

    var all: [(name: String, client: RPCClient)] { [("auth", auth), ("store", store)] }
}
