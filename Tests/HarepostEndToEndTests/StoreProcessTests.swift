import Foundation
import HarepostJSON
import HarepostProto
import HarepostRPC
import Testing

@Suite("Store process", .timeLimit(.minutes(2)))
struct StoreProcessTests {
    /// Every send the store acknowledged is on disk: kill -9 right after the
    /// replies, restart, and each one is there.
    @Test func kill9AfterAcknowledgedSendsLosesNothing() async throws {
        try await withRunDirectory { dir in
            let socket = "\(dir)/store.sock"
            let arguments = [
                "store", "--socket", socket, "--data-dir", "\(dir)/data", "--log-level", "warning",
                "--allow-private-targets", "--trust-all-domains",
            ]
            let client = quietClient(socket: socket)
            let options = RPCCallOptions(metadata: [
                RPCMetadataKey.accountID: "acct_e2e", RPCMetadataKey.environment: "live",
            ])
            let sendType = try #require(MessageDescriptor.named("harepost.store.v1.SendRequest"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let first = try ComponentProcess(arguments, socket: socket)
                _ = try await waitUntilServing(client)

                let acknowledged = try await withThrowingTaskGroup(of: String.self) { sends in
                    for index in 0..<200 {
                        sends.addTask {
                            let request = try ProtoJSON.decode(
                                Array(#"{"target": "https://your-app.com/\#(index)"}"#.utf8),
                                as: sendType
                            )
                            return try await client.call("harepost.store.v1.Store/Send", request, options: options)
                                .string("queue_id")!
                        }
                    }
                    var ids: Set<String> = []
                    for try await id in sends { ids.insert(id) }
                    return ids
                }
                first.kill9()
                #expect(await first.waitForExit() != nil)

                let second = try ComponentProcess(arguments, socket: socket)
                _ = try await waitUntilServing(client)
                var stored: Set<String> = []
                var cursor: String?
                repeat {
                    let request = try ProtoMessage(
                        "harepost.store.v1.ListDeliveriesRequest",
                        ["limit": .int32(100), "cursor": cursor.map(ProtoValue.string)]
                    )
                    let page = try await client.call(
                        "harepost.store.v1.Store/ListDeliveries",
                        request,
                        options: options
                    )
                    stored.formUnion(page.values("data").compactMap { $0.messageValue?.string("queue_id") })
                    cursor = page.has("next_cursor") ? page.string("next_cursor") : nil
                } while cursor != nil
                #expect(acknowledged.count == 200)
                #expect(acknowledged.isSubset(of: stored))
                second.terminate()
                #expect(await second.waitForExit() == 0)
                group.cancelAll()
            }
        }
    }
}
