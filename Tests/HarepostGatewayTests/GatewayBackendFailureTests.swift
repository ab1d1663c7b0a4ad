import Foundation
import HarepostAuth
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostStore
import HarepostTestSupport
import Hummingbird
import HummingbirdTesting
import Testing

@testable import HarepostGateway

@Suite("Gateway when a backend fails", .timeLimit(.minutes(2)))
struct GatewayBackendFailureTests {
    /// A store RPC server on `directory`'s socket, until cancelled.
    static func startStore(_ directory: String, router: RPCRouter) async -> Task<Void, any Error> {
        let server = RPCServer(
            configuration: .init(endpoint: .unixSocket(path: "\(directory)/store.sock"), component: "store"),
            router: router,
            logger: GatewayHarness.quietLogger
        )
        let task = Task { try await server.run() }
        await server.waitUntilListening()
        return task
    }

    /// A store router whose only method, ListDeliveries, answers an empty page
    /// after `delay`; `received`, when given, hears of each call as it arrives.
    static func slowListDeliveries(
        after delay: Duration,
        received: AsyncStream<Void>.Continuation? = nil
    ) throws -> RPCRouter {
        var router = RPCRouter()
        try router.register("harepost.store.v1.Store/ListDeliveries") { _, _ in
            received?.yield()
            try await Task.sleep(for: delay)
            return try ProtoMessage("harepost.store.v1.ListDeliveriesResponse")
        }
        return router
    }

    /// auth as a real service; the store socket in `directory` is the caller's.
    static func withGateway(
        storeDirectory directory: String,
        timeout: Duration = .seconds(10),
        _ body: @Sendable (_ client: TestClient, _ key: String, _ backends: GatewayBackends) async throws -> Void
    ) async throws {
        try await withRPCService(component: "auth") { authDirectory in
            try AuthService(sqlitePath: "\(authDirectory)/auth.sqlite").router()
        } _: { _, auth in
            let account = try await auth.call(
                "harepost.auth.v1.Auth/CreateAccount",
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Outage")])
            )
            let store = RPCClient(
                configuration: .init(endpoint: .unixSocket(path: "\(directory)/store.sock")),
                logger: GatewayHarness.quietLogger
            )
            let storeTask = Task { try await store.run() }
            defer { storeTask.cancel() }
            let backends = GatewayBackends(auth: auth, store: store)
            let server = GatewayApplication.make(
                configuration: .init(port: 0, backendTimeout: timeout),
                routes: try RouteMap.load(path: GatewayHarness.routesPath, backends: ["auth", "store"]),
                backends: backends,
                logger: GatewayHarness.quietLogger
            )
            try await GatewayHarness.serve(server) { client, _ in
                try await body(client, account.string("api_key") ?? "", backends)
            }
        }
    }

    static func list(_ client: TestClient, _ key: String) async throws -> (Int, String?) {
        let response = try await client.executeRequest(
            uri: "/v1/deliveries",
            method: .get,
            headers: [.authorization: "Bearer \(key)"],
            body: nil
        )
        return (Int(response.status.code), response.headers[.retryAfter])
    }

    @Test func aStoreRestartGivesOnly503sDuringTheOutageThenFullService() async throws {
        try await withTemporaryDirectory("hp-gw") { directory in
            @Sendable func storeRouter() throws -> RPCRouter {
                try StoreService(sqlitePath: "\(directory)/store.sqlite").router()
            }
            let first = await Self.startStore(directory, router: try storeRouter())
            // A backend deadline far above the bound on each 503 below, so a
            // 503 that waited for the deadline cannot pass for a prompt one.
            try await Self.withGateway(storeDirectory: directory, timeout: .seconds(30)) { client, key, _ in
                #expect(try await Self.list(client, key).0 == 200)
                first.cancel()
                _ = await first.result
                // Down: every answer is a prompt 503 with Retry-After.
                for _ in 0..<20 {
                    let started = ContinuousClock.now
                    let (status, retryAfter) = try await Self.list(client, key)
                    #expect(status == 503)
                    #expect(retryAfter == "1")
                    #expect(ContinuousClock.now - started < .seconds(15))
                }
                let second = await Self.startStore(directory, router: try storeRouter())
                // Back: after the client reconnects, only 200s.
                var statuses: [Int] = []
                let deadline = ContinuousClock.now + .seconds(10)
                while statuses.last != 200, ContinuousClock.now < deadline {
                    statuses.append(try await Self.list(client, key).0)
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(Set(statuses).isSubset(of: [503, 200]))
                for _ in 0..<20 { #expect(try await Self.list(client, key).0 == 200) }
                second.cancel()
                _ = await second.result
            }
        }
    }

    @Test func aMissedDeadlineIs504WithoutInternals() async throws {
        try await withTemporaryDirectory("hp-gw") { directory in
            // A real RPC server whose ListDeliveries takes longer than the gateway waits.
            let store = await Self.startStore(directory, router: try Self.slowListDeliveries(after: .seconds(3)))
            try await Self.withGateway(storeDirectory: directory, timeout: .milliseconds(300)) { client, key, _ in
                let response = try await client.executeRequest(
                    uri: "/v1/deliveries",
                    method: .get,
                    headers: [.authorization: "Bearer \(key)"],
                    body: nil
                )
                #expect(response.status.code == 504)
                let body = response.body.map { String(buffer: $0) }
                #expect(body == #"{"error":"gateway timeout","detail":"a backing service missed its deadline"}"#)
            }
            store.cancel()
            _ = await store.result
        }
    }
}
