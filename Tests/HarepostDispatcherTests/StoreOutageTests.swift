import Foundation
import HarepostAuth
import HarepostProto
import HarepostRPC
import HarepostStore
import HarepostTestSupport
import Logging
import Testing

@testable import HarepostDispatcher

@Suite("Dispatcher during a store outage")
struct StoreOutageTests {
    /// A store service on `directory`'s socket and database, until cancelled.
    static func startStore(_ directory: String) async throws -> Task<Void, any Error> {
        let server = RPCServer(
            configuration: .init(endpoint: .unixSocket(path: "\(directory)/store.sock"), component: "store"),
            router: try StoreService(
                sqlitePath: "\(directory)/store.sqlite",
                configuration: .init(allowPrivateTargets: true, trustAllDomains: true)
            ).router(),
            logger: DeliveryHarness.quietLogger
        )
        let task = Task { try await server.run() }
        await server.waitUntilListening()
        return task
    }

    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    @Test func aResultIsKeptWhileTheStoreIsDownAndRecordedWhenItReturns() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRPCService(component: "auth") { directory in
                try AuthService(sqlitePath: "\(directory)/auth.sqlite").router()
            } _: { directory, auth in
                let account = try await auth.call(
                    "harepost.auth.v1.Auth/CreateAccount",
                    try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Outage")])
                )
                let storeClient = RPCClient(
                    configuration: .init(endpoint: .unixSocket(path: "\(directory)/store.sock")),
                    logger: DeliveryHarness.quietLogger
                )
                let clientTask = Task { try await storeClient.run() }
                defer { clientTask.cancel() }
                let first = try await Self.startStore(directory)
                let second = try await DeliveryHarness.run(
                    store: storeClient,
                    auth: auth,
                    accountID: account.string("id") ?? "",
                    signingSecret: "",
                    http: DeliveryTests.http(target)
                ) { harness in
                    // The target answers after 3 s; the store goes away meanwhile.
                    let path = "/slow/outage"
                    let queueID = try await harness.send(#"{"target": "\#(target.url(path))", "body": "x"}"#)
                    try await Self.until("the target has the request") { try target.requests(path).count == 1 }
                    first.cancel()
                    _ = await first.result
                    try await withRPCService(component: "dispatcher") { _ in
                        try harness.dispatcher.router()
                    } _: { _, dispatcher in
                        try await Self.until("the result waits to be recorded") {
                            let status = try await dispatcher.call(
                                "harepost.dispatcher.v1.Dispatcher/GetStatus",
                                try ProtoMessage("harepost.dispatcher.v1.GetStatusRequest")
                            )
                            return status.int64("pending_records") == 1
                        }
                    }
                    let second = try await Self.startStore(directory)
                    let delivery = try await harness.waitForTerminal(queueID)
                    #expect(delivery.enumName("status") == "delivered")
                    #expect(delivery.attemptOutcomes == ["delivered"])
                    // Recorded, not re-sent.
                    #expect(try target.requests(path).count == 1)
                    return second
                }
                second.cancel()
                _ = await second.result
            }
        }
    }
}
