import HarepostJSON
import Testing

@testable import HarepostGateway

@Suite("Route map validation")
struct RouteMapTests {
    static func load(_ route: String) -> String? {
        do {
            _ = try RouteMap.parse(
                Array(#"{"routes": [\#(route)]}"#.utf8),
                backends: ["auth", "store"],
                source: "test.json"
            )
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theShippedMapIsValidAndCoversThePublicAPI() throws {
        let map = try RouteMap.load(path: GatewayHarness.routesPath, backends: ["auth", "store"])
        let routes = Set(map.routes.map { "\($0.httpMethod) \($0.template)" })
        #expect(
            routes.isSuperset(of: [
                "POST /v1/accounts", "GET /v1/signing-secret", "POST /v1/domains", "POST /v1/domains/verify",
                "GET /v1/domains", "POST /v1/send", "GET /v1/deliveries/{queue_id}", "GET /v1/deliveries",
                "GET /v1/delivery-attempts",
            ])
        )
    }

    /// The binary's built-in map is the shipped file's (the generator's
    /// `--check` in CI keeps the text the same; this checks it parses to the
    /// same routes).
    @Test func theBuiltInMapIsTheShippedOne() throws {
        let shipped = try RouteMap.load(path: GatewayHarness.routesPath, backends: ["auth", "store"])
        let builtIn = try RouteMap.builtIn(backends: ["auth", "store"])
        #expect(builtIn.routes.map(\.name) == shipped.routes.map(\.name))
        #expect(
            builtIn.routes.map { "\($0.httpMethod) \($0.template)" }
                == shipped.routes.map { "\($0.httpMethod) \($0.template)" }
        )
    }

    @Test func aWrongEntryIsRefusedWithAMessageNamingIt() {
        let unknownMethod = Self.load(
            #"{"name": "x", "method": "GET", "path": "/v1/x", "rpc": "harepost.store.v1.Store/Nope"}"#
        )
        #expect(unknownMethod?.contains("routes[0] (x)") == true)
        #expect(unknownMethod?.contains("harepost.store.v1.Store/Nope") == true)
        let unknownField = Self.load(
            #"{"method": "GET", "path": "/v1/d/{nope}", "rpc": "harepost.store.v1.Store/GetDelivery"}"#
        )
        #expect(unknownField?.contains("{nope}") == true)
        let unknownQuery = Self.load(
            #"{"method": "GET", "path": "/v1/d", "rpc": "harepost.store.v1.Store/ListDeliveries", "query": {"q": "nope"}}"#
        )
        #expect(unknownQuery?.contains("query parameter q") == true)
        let badResponse = Self.load(
            #"{"method": "GET", "path": "/v1/d", "rpc": "harepost.store.v1.Store/ListDeliveries", "response": "data"}"#
        )
        #expect(badResponse?.contains("response \"data\"") == true)
        let badStatus = Self.load(
            #"{"method": "GET", "path": "/v1/d", "rpc": "harepost.store.v1.Store/ListDeliveries", "status": 204}"#
        )
        #expect(badStatus?.contains("status") == true)
        let typo = Self.load(
            #"{"method": "GET", "path": "/v1/d", "rpc": "harepost.store.v1.Store/ListDeliveries", "quer": {}}"#
        )
        #expect(typo?.contains("unknown key \"quer\"") == true)
        let noBackend = Self.load(
            #"{"method": "GET", "path": "/v1/s", "rpc": "harepost.dispatcher.v1.Dispatcher/GetStatus"}"#
        )
        #expect(noBackend?.contains("no backend") == true)
    }
}
