import Foundation
import HarepostJSON
import HarepostPostgres
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

@testable import HarepostStore

/// A real store service: a SQLite file in a temp dir, served on a real Unix socket.
struct StoreHarness: Sendable {
    let directory: String
    let client: RPCClient
    /// The service behind the socket, for what only it can tell (claims waiting).
    let service: StoreService
    /// The PostgreSQL server the store runs on, when it does.
    var postgres: PostgresServer? = nil

    /// The storage engines the service tests run on, each in turn.
    enum Engine: String, CaseIterable, Sendable {
        case sqlite, postgres
    }

    /// Runs `body` against a fresh store on each engine (a SQLite file; a
    /// throwaway PostgreSQL server), and returns the last answer.
    static func withStore<T: Sendable>(
        _ configuration: StoreService.Configuration = .init(allowPrivateTargets: true, trustAllDomains: true),
        engines: [Engine] = Engine.allCases,
        _ body: @Sendable (StoreHarness) async throws -> T
    ) async throws -> T {
        var result: T?
        for engine in engines {
            result = try await withStore(configuration, engine: engine, body)
        }
        return result!
    }

    static func withStore<T: Sendable>(
        _ configuration: StoreService.Configuration,
        engine: Engine,
        _ body: @Sendable (StoreHarness) async throws -> T
    ) async throws -> T {
        switch engine {
        case .sqlite:
            let service = NIOLockedValueBox<StoreService?>(nil)
            return try await withRPCService(component: "store") { directory in
                let store = try StoreService(sqlitePath: "\(directory)/store.sqlite", configuration: configuration)
                service.withLockedValue { $0 = store }
                return try store.router()
            } _: { directory, client in
                try await body(
                    StoreHarness(directory: directory, client: client, service: service.withLockedValue { $0! })
                )
            }
        case .postgres:
            return try await PostgresServer.with { server in
                try await withStore(configuration, on: server, body)
            }
        }
    }

    /// A store on `server`'s database (with other stores on it, when the
    /// caller runs several).
    static func withStore<T: Sendable>(
        _ configuration: StoreService.Configuration = .init(allowPrivateTargets: true, trustAllDomains: true),
        on server: PostgresServer,
        _ body: @Sendable (StoreHarness) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "harepost.store.tests")
        logger.logLevel = .critical
        let backend = try PostgresBackend(
            settings: PostgresSettings(url: server.url(), password: nil),
            component: "store",
            migrations: StoreService.postgresMigrations,
            // A loaded test machine can keep a busy pool's callers waiting
            // longer than production's 5 s bound; no test here wants it.
            connectionWait: .seconds(60),
            logger: logger
        )
        let store = StoreService(postgres: backend, configuration: configuration, logger: logger)
        return try await withRPCService(
            component: "store",
            background: store.backgroundServices,
            ready: backend.ready,
            router: try store.router()
        ) { directory, client in
            try await body(StoreHarness(directory: directory, client: client, service: store, postgres: server))
        }
    }

    /// Makes `duration` pass for leases: on the injected `clock` for SQLite,
    /// in the rows for PostgreSQL, whose leases run on the database's clock.
    func letLeaseTimePass(_ duration: Duration, clock: ManualWallClock) async throws {
        if let postgres {
            let milliseconds =
                duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            try await postgres.psql(
                "UPDATE deliveries SET lease_expires_at = lease_expires_at - \(milliseconds) WHERE lease_id IS NOT NULL"
            )
        } else {
            clock.advance(by: duration)
        }
    }

    func call(
        _ method: String,
        _ request: ProtoMessage,
        account: String = "acct_a",
        environment: String = "live",
        timeout: Duration = .seconds(10),
        requestID: String? = nil
    ) async throws(RPCError) -> ProtoMessage {
        var metadata = [RPCMetadataKey.accountID: account, RPCMetadataKey.environment: environment]
        metadata[RPCMetadataKey.requestID] = requestID
        return try await client.call(
            "harepost.store.v1.Store/\(method)",
            request,
            options: .init(timeout: timeout, metadata: metadata)
        )
    }

    func failure(_ method: String, _ request: ProtoMessage, account: String = "acct_a", environment: String = "live")
        async -> RPCError?
    {
        do {
            _ = try await call(method, request, account: account, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    /// Sends JSON (as the gateway would decode it) and returns the response.
    func send(_ json: String, account: String = "acct_a", environment: String = "live") async throws -> ProtoMessage {
        try await call("Send", try sendRequest(json), account: account, environment: environment)
    }

    func sendRequest(_ json: String) throws -> ProtoMessage {
        try ProtoJSON.decode(Array(json.utf8), as: MessageDescriptor.named("harepost.store.v1.SendRequest")!)
    }

    func claim(max: Int64 = 10, waitMilliseconds: Int64 = 0, timeout: Duration = .seconds(10)) async throws
        -> [ProtoMessage]
    {
        let request = try ProtoMessage(
            "harepost.store.v1.ClaimDueRequest",
            ["max_tasks": .int32(Int32(max)), "wait_ms": .int64(waitMilliseconds), "worker_id": .string("test")]
        )
        return try await call("ClaimDue", request, timeout: timeout).values("tasks").compactMap(\.messageValue)
    }

    func record(
        _ task: ProtoMessage,
        outcome: String,
        httpStatus: Int32?,
        newStatus: String,
        nextAttemptInMilliseconds: Int64? = nil
    ) async throws(RPCError) -> ProtoMessage {
        var attempt = try! ProtoMessage(
            "harepost.store.v1.AttemptRecord",
            [
                "http_status": httpStatus.map(ProtoValue.int32), "duration_ms": .int64(12),
                "request_url": task["target"], "request_method": task["method"],
                "request_body_size": .int64(Int64(task["body"]?.bytesValue?.count ?? 0)),
                "response_body": .bytes(Array("ok".utf8)),
            ]
        )
        try! attempt.set("outcome", enumName: outcome)
        try! attempt.set("response_headers", stringMap: ["content-type": "text/plain"])
        var request = try! ProtoMessage(
            "harepost.store.v1.RecordAttemptRequest",
            [
                "queue_id": task["queue_id"], "lease_id": task["lease_id"], "attempt": .message(attempt),
                "next_attempt_at": nextAttemptInMilliseconds.map {
                    .timestamp(unixMilliseconds: Date().unixMilliseconds + $0)
                },
            ]
        )
        try! request.set("new_status", enumName: newStatus)
        return try await call("RecordAttempt", request)
    }

    func delivery(_ queueID: String) async throws -> ProtoMessage {
        try await call(
            "GetDelivery",
            try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": .string(queueID)])
        ).message("delivery")!
    }
}

extension NewDelivery {
    /// A plain POST to `origin`'s `/hook` for engine-level tests.
    static func sample(_ tenant: Tenant, origin: String = "https://your-app.com") -> NewDelivery {
        NewDelivery(
            queueID: StoreIdentifiers.timeOrdered("hr"),
            tenant: tenant,
            target: "\(origin)/hook",
            method: "POST",
            headers: [:],
            body: [],
            metadataJSON: nil,
            sign: false,
            idempotencyKey: nil,
            policy: SendValidation.resolvePolicy(nil),
            destinationOrigin: origin,
            destinationName: origin,
            connectionName: origin,
            createdAt: 1,
            requestID: nil
        )
    }
}
