import Foundation
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

@Suite("Dispatcher process", .timeLimit(.minutes(2)))
struct DispatcherProcessTests {
    /// auth, store and dispatcher as three processes: a signed send reaches the
    /// HTTPS target, and SIGTERM lets an in-flight delivery finish and record.
    @Test func deliversAndDrainsInFlightWorkOnSIGTERM() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let common = ["--run-dir", dir, "--log-level", "warning"]
                let auth = try ComponentProcess(
                    ["auth", "--data-dir", "\(dir)/data"] + common,
                    socket: "\(dir)/auth.sock"
                )
                let store = try ComponentProcess(
                    ["store", "--data-dir", "\(dir)/data", "--allow-private-targets", "--trust-all-domains"] + common,
                    socket: "\(dir)/store.sock"
                )
                let dispatcher = try ComponentProcess(
                    ["dispatcher", "--ca-bundle", target.caPath, "--allow-private-targets"] + common,
                    socket: "\(dir)/dispatcher.sock"
                )
                let authClient = quietClient(socket: "\(dir)/auth.sock")
                let storeClient = quietClient(socket: "\(dir)/store.sock")
                let dispatcherClient = quietClient(socket: "\(dir)/dispatcher.sock")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for client in [authClient, storeClient, dispatcherClient] {
                        group.addTask { try await client.run() }
                    }
                    for client in [authClient, storeClient, dispatcherClient] { _ = try await waitUntilServing(client) }
                    let account = try await authClient.call(
                        "harepost.auth.v1.Auth/CreateAccount",
                        try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("e2e")])
                    )
                    let options = RPCCallOptions(metadata: [
                        RPCMetadataKey.accountID: account.string("id") ?? "", RPCMetadataKey.environment: "live",
                    ])
                    let sendType = try #require(MessageDescriptor.named("harepost.store.v1.SendRequest"))
                    func send(_ path: String) async throws -> String {
                        let request = try ProtoJSON.decode(
                            Array(#"{"target": "\#(target.url(path))", "body": {"n": 1}, "sign": true}"#.utf8),
                            as: sendType
                        )
                        return try #require(
                            try await storeClient.call("harepost.store.v1.Store/Send", request, options: options)
                                .string("queue_id")
                        )
                    }
                    func status(_ queueID: String) async throws -> String? {
                        let response = try await storeClient.call(
                            "harepost.store.v1.Store/GetDelivery",
                            try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": .string(queueID)]),
                            options: options
                        )
                        return response.message("delivery")?.enumName("status")
                    }
                    let quick = try await send("/ok/e2e")
                    let deadline = ContinuousClock.now + .seconds(20)
                    while try await status(quick) != "delivered", ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    #expect(try await status(quick) == "delivered")
                    #expect(
                        try target.requests("/ok/e2e").first?.header("X-Harepost-Signature")?.hasPrefix("t=") == true
                    )

                    let getStatus = try ProtoMessage("harepost.dispatcher.v1.GetStatusRequest")
                    let before = try await dispatcherClient.call(
                        "harepost.dispatcher.v1.Dispatcher/GetStatus",
                        getStatus
                    )
                    #expect(before.int64("attempts_delivered") == 1)
                    #expect(before.int64("max_in_flight") == 64)

                    // The target holds this one for 3 s; SIGTERM arrives meanwhile.
                    let slow = try await send("/slow/e2e-drain")
                    while try target.requests("/slow/e2e-drain").isEmpty {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    dispatcher.terminate()
                    #expect(await dispatcher.waitForExit(timeout: .seconds(15)) == 0)
                    #expect(try await status(slow) == "delivered")
                    for process in [auth, store] { process.terminate() }
                    for process in [auth, store] { #expect(await process.waitForExit() == 0) }
                    group.cancelAll()
                }
            }
        }
    }
}
