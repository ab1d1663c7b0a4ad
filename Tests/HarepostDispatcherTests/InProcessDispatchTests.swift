import Foundation
import HarepostAuth
import HarepostCurl
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostStore
import HarepostTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import HarepostDispatcher

/// The dispatcher with no socket and no network: the store and auth answer
/// in process (``InProcessCaller``) and the outbound HTTP is a double that
/// records each request and answers as scripted.
@Suite("Dispatcher with in-process store and HTTP double", .timeLimit(.minutes(1)))
struct InProcessDispatchTests {
    final class ScriptedHTTP: OutboundHTTP {
        let requests = NIOLockedValueBox<[OutboundRequest]>([])
        let statuses: [Int]

        init(statuses: [Int]) { self.statuses = statuses }

        func execute(_ request: OutboundRequest) async -> OutboundResult {
            let index = requests.withLockedValue { requests in
                requests.append(request)
                return requests.count - 1
            }
            let status = statuses[min(index, statuses.count - 1)]
            return OutboundResult(outcome: .response(status: status), durationMilliseconds: 1)
        }
    }

    @Test func aFailedAttemptIsRetriedAndTheSecondDelivers() async throws {
        try await withTemporaryDirectory("hp-inproc") { directory in
            var logger = Logger(label: "harepost.dispatcher.tests")
            logger.logLevel = .critical
            let auth = InProcessCaller(
                router: try AuthService(sqlitePath: "\(directory)/auth.sqlite").router(),
                logger: logger
            )
            let store = InProcessCaller(
                router: try StoreService(
                    sqlitePath: "\(directory)/store.sqlite",
                    configuration: .init(allowPrivateTargets: true, trustAllDomains: true)
                ).router(),
                logger: logger
            )
            let account = try await auth.call(
                "harepost.auth.v1.Auth/CreateAccount",
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("In process")])
            )
            let metadata = [
                RPCMetadataKey.accountID: account.string("id") ?? "", RPCMetadataKey.environment: "live",
            ]
            let send = try ProtoJSON.decode(
                Array(
                    #"{"target": "https://your-app.com/hook", "body": {"n": 1}, "delivery": {"base_delay_ms": 100, "jitter": "none"}}"#
                        .utf8
                ),
                as: MessageDescriptor.named("harepost.store.v1.SendRequest")!
            )
            let queueID = try #require(
                try await store.call("harepost.store.v1.Store/Send", send, options: .init(metadata: metadata))
                    .string("queue_id")
            )
            let http = ScriptedHTTP(statuses: [503, 200])
            let dispatcher = Dispatcher(
                configuration: .init(workerID: "in-process", claimWait: .milliseconds(200)),
                store: store,
                auth: auth,
                http: http,
                logger: logger
            )
            let running = Task { await dispatcher.run() }
            defer { running.cancel() }
            var status = ""
            for _ in 0..<200 where status != "delivered" {
                let answer = try await store.call(
                    "harepost.store.v1.Store/GetDelivery",
                    try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": .string(queueID)]),
                    options: .init(metadata: metadata)
                )
                status = answer.message("delivery")?.enumName("status") ?? ""
                if status != "delivered" { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(status == "delivered")
            let sent = http.requests.withLockedValue { $0 }
            #expect(sent.count == 2)
            #expect(sent.first?.url == "https://your-app.com/hook")
            #expect(sent.first.map { String(decoding: $0.body, as: UTF8.self) } == #"{"n":1}"#)
            #expect(sent.map { $0.headers.first { $0.name == "X-Harepost-Attempt" }?.value } == ["1", "2"])
        }
    }
}
