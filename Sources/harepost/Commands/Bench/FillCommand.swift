import ArgumentParser
import Foundation
import HarepostContracts
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTime
import Logging
import NIOConcurrencyHelpers

/// `harepost bench fill`: stores many deliveries through the store's own Send
/// RPC (the contract every send goes through), for the benchmark's scale runs.
struct FillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "Store N deliveries for an account through the store's Send RPC."
    )

    @Option(help: "The store component's socket.")
    var storeSocket: String = "run/store.sock"

    @Option(help: "The account the deliveries belong to.")
    var account: String

    @Option(help: "The environment: live or test.")
    var environment: String = "live"

    @Option(help: "How many deliveries to store.")
    var count: Int

    @Option(help: "Send calls in flight at once.")
    var concurrency: Int = 128

    @Option(help: "Where the deliveries would go.")
    var target: String = "https://example.com/webhook"

    func validate() throws {
        guard count > 0, concurrency > 0 else { throw ValidationError("--count and --concurrency must be positive") }
    }

    func run() async throws {
        var logger = Logger(label: "harepost.bench.fill")
        logger.logLevel = .critical
        let client = RPCClient(configuration: .init(endpoint: .unixSocket(path: storeSocket)), logger: logger)
        var send = StoreV1.SendRequest()
        send.target = target
        send.body = GoogleProtobuf.Value(
            unchecked: try ProtoJSON.decode(
                Array(#"{"event": "order.paid", "order": 42}"#.utf8),
                as: GoogleProtobuf.Value.descriptor
            )
        )
        let request = send
        let options = RPCCallOptions(
            timeout: .seconds(30),
            metadata: [RPCMetadataKey.accountID: account, RPCMetadataKey.environment: environment]
        )
        let next = NIOLockedValueBox(0)
        let started = ContinuousClock.now
        let failures = await whileRunning(client) { () async -> Int in
            await withTaskGroup(of: Int.self) { group in
                for _ in 0..<min(concurrency, count) {
                    group.addTask {
                        var failures = 0
                        while true {
                            let index = next.withLockedValue { value -> Int in
                                defer { value += 1 }
                                return value
                            }
                            guard index < count else { return failures }
                            do {
                                _ = try await client.call(StoreV1.Store.Send.self, request, options: options)
                            } catch {
                                failures += 1
                            }
                            if (index + 1) % 50_000 == 0 {
                                printError("stored \(index + 1) of \(count)")
                            }
                        }
                    }
                }
                return await group.reduce(0, +)
            }
        }
        let seconds = Double((ContinuousClock.now - started).nanoseconds) / 1e9
        print("stored \(count - failures) deliveries in \(String(format: "%.1f", seconds)) s (\(failures) failed)")
        if failures > 0 { throw ExitCode(1) }
    }
}
