import Foundation
import HarepostAuth
import HarepostCurl
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostStore
import HarepostTestSupport
import Logging
import Testing

@testable import HarepostDispatcher

/// Real auth and store services on Unix sockets (SQLite in a temp dir), one
/// account, and a dispatcher with its curl client delivering to the target.
struct DeliveryHarness: Sendable {
    let store: RPCClient
    let accountID: String
    let signingSecret: String
    let dispatcher: Dispatcher

    static var quietLogger: Logger {
        var logger = Logger(label: "harepost.dispatcher.tests")
        logger.logLevel = .critical
        return logger
    }

    static func with<T: Sendable>(
        http: CurlHTTPClient.Configuration,
        standardWebhooks: Bool = false,
        _ body: @Sendable (DeliveryHarness) async throws -> T
    ) async throws -> T {
        try await withRPCService(component: "auth") { directory in
            try AuthService(sqlitePath: "\(directory)/auth.sqlite").router()
        } _: { _, auth in
            let account = try await auth.call(
                "harepost.auth.v1.Auth/CreateAccount",
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Dispatcher tests")])
            )
            return try await withRPCService(component: "store") { directory in
                try StoreService(
                    sqlitePath: "\(directory)/store.sqlite",
                    configuration: .init(allowPrivateTargets: true, trustAllDomains: true)
                ).router()
            } _: { _, store in
                try await run(
                    store: store,
                    auth: auth,
                    accountID: account.string("id") ?? "",
                    signingSecret: account.string("signing_secret") ?? "",
                    http: http,
                    standardWebhooks: standardWebhooks,
                    body
                )
            }
        }
    }

    /// Runs a dispatcher (and its curl client) against `store` for the body's duration.
    static func run<T: Sendable>(
        store: RPCClient,
        auth: RPCClient,
        accountID: String,
        signingSecret: String,
        http configuration: CurlHTTPClient.Configuration,
        standardWebhooks: Bool = false,
        _ body: @Sendable (DeliveryHarness) async throws -> T
    ) async throws -> T {
        let http = CurlHTTPClient(configuration: configuration, logger: quietLogger)
        let dispatcher = Dispatcher(
            configuration: .init(
                workerID: "tests",
                maximumInFlight: 16,
                claimWait: .seconds(2),
                standardWebhooks: standardWebhooks
            ),
            store: store,
            auth: auth,
            http: http,
            logger: quietLogger
        )
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await http.run()
                return nil
            }
            group.addTask {
                await dispatcher.run()
                return nil
            }
            let harness = DeliveryHarness(
                store: store,
                accountID: accountID,
                signingSecret: signingSecret,
                dispatcher: dispatcher
            )
            let result = try await body(harness)
            group.cancelAll()
            while let _ = try await group.next() {}
            return result
        }
    }

    var metadata: [String: String] { [RPCMetadataKey.accountID: accountID, RPCMetadataKey.environment: "live"] }

    func call(_ method: String, _ request: ProtoMessage) async throws -> ProtoMessage {
        try await store.call("harepost.store.v1.Store/\(method)", request, options: .init(metadata: metadata))
    }

    /// Sends (as the gateway would decode the JSON body) and returns the queue id.
    func send(_ json: String) async throws -> String {
        let request = try ProtoJSON.decode(
            Array(json.utf8),
            as: MessageDescriptor.named("harepost.store.v1.SendRequest")!
        )
        return try #require(try await call("Send", request).string("queue_id"))
    }

    /// Polls until the delivery reaches a terminal status (or fails the test).
    func waitForTerminal(_ queueID: String, timeout: Duration = .seconds(20)) async throws -> ProtoMessage {
        let deadline = ContinuousClock.now + timeout
        while true {
            let response = try await call(
                "GetDelivery",
                try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": .string(queueID)])
            )
            let delivery = try #require(response.message("delivery"))
            if ["delivered", "rejected", "dead_letter"].contains(delivery.enumName("status") ?? "") {
                return delivery
            }
            if ContinuousClock.now > deadline {
                Issue.record("\(queueID) still \(delivery.enumName("status") ?? "?") after \(timeout)")
                return delivery
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// The hookstream-style attempt records of one delivery, in order.
    func attemptRecords(_ queueID: String) async throws -> [ProtoMessage] {
        let response = try await call(
            "ListDeliveryAttempts",
            try ProtoMessage("harepost.store.v1.ListDeliveryAttemptsRequest", ["event_id": .string(queueID)])
        )
        return response.values("delivery_attempts").compactMap(\.messageValue).reversed()
    }
}

extension ProtoMessage {
    /// The outcomes of a delivery's attempts, in order.
    var attemptOutcomes: [String] {
        values("attempts").compactMap(\.messageValue).map { $0.enumName("outcome") ?? "" }
    }
}
