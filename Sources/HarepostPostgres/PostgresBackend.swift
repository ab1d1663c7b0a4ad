public import Logging
import NIOConcurrencyHelpers
public import PostgresNIO
public import ServiceLifecycle

/// One component's PostgreSQL: a connection pool, its schema migrations, and
/// a bound on waiting for a connection, so that a database that is down makes
/// calls fail fast as unavailable instead of hanging.
///
/// Run it (``run()``) for as long as the component serves; ``ready()``
/// returns once the pool runs and the schema is current.
public final class PostgresBackend: Service, Sendable {
    public let settings: PostgresSettings
    public let client: PostgresClient
    public let logger: Logger
    let migrations: [PostgresMigration]
    let component: String
    /// How long a call waits for a connection before it is unavailable.
    public let connectionWait: Duration
    private let readiness = NIOLockedValueBox<Readiness>(.waiting([]))
    /// Set when a call got no connection in time, cleared when one does:
    /// while set, calls wait only ``unreachableWait``, so an outage is
    /// answered promptly instead of holding every caller for the full wait.
    private let unreachable = NIOLockedValueBox(false)
    /// How long a call waits for a connection while the database is known to be unreachable.
    static let unreachableWait = Duration.milliseconds(250)
    /// Ends the waits for a connection that last too long.
    private let deadlines = DeadlineWatch()

    private enum Readiness {
        case waiting([CheckedContinuation<Void, any Error>])
        case ready
        case failed(any Error)
    }

    public init(
        settings: PostgresSettings,
        component: String,
        migrations: [PostgresMigration],
        connectionWait: Duration = .seconds(5),
        logger: Logger
    ) throws {
        self.settings = settings
        self.component = component
        self.migrations = migrations
        self.connectionWait = connectionWait
        self.logger = logger
        self.client = PostgresClient(configuration: try settings.clientConfiguration(), backgroundLogger: logger)
    }

    /// Runs the pool, applies the migrations this build has and the database
    /// lacks (retrying while the database is unreachable), then serves until
    /// cancelled or shut down.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.deadlines.run() }
            var delay = Duration.milliseconds(200)
            while true {
                do {
                    try await PostgresMigrator.migrate(self, logger: logger)
                    break
                } catch  where PostgresFailure.storageReason(error) != nil && !Task.isCancelled {
                    logger.warning(
                        "database unreachable; retrying the migrations",
                        metadata: ["database": "\(settings)", "error": "\(error)"]
                    )
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                } catch {
                    settle(.failed(error))
                    throw error
                }
            }
            settle(.ready)
            logger.info("database ready", metadata: ["database": "\(settings)"])
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Returns once the schema is current; throws if migrating failed.
    public func ready() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let now: Result<Void, any Error>? = readiness.withLockedValue { state in
                switch state {
                case .ready: return .success(())
                case .failed(let error): return .failure(error)
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                }
            }
            if let now { continuation.resume(with: now) }
        }
    }

    /// Whether the schema is current.
    public var isReady: Bool {
        readiness.withLockedValue { if case .ready = $0 { true } else { false } }
    }

    private func settle(_ outcome: Readiness) {
        let waiters = readiness.withLockedValue { state -> [CheckedContinuation<Void, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = outcome
            return waiters
        }
        for waiter in waiters {
            switch outcome {
            case .failed(let error): waiter.resume(throwing: error)
            default: waiter.resume()
            }
        }
    }

    /// Runs `body` on a pooled connection once one is had within
    /// ``connectionWait``, or ``unreachableWait`` after a call found none
    /// (``PostgresUnavailable`` otherwise). Only the wait
    /// for a connection is bounded: a statement that started runs to its end,
    /// so a commit is never abandoned half-known.
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let wait = unreachable.withLockedValue { $0 } ? min(Self.unreachableWait, connectionWait) : connectionWait
        // Bounded like the wait for a connection: a store that started while
        // its database was away answers unavailable, not late. (Polled: only
        // until the first migration is done.)
        let deadline = ContinuousClock.now + wait
        while true {
            let state = readiness.withLockedValue { state -> (ready: Bool, failure: (any Error)?) in
                switch state {
                case .ready: (true, nil)
                case .failed(let error): (false, error)
                case .waiting: (false, nil)
                }
            }
            if state.ready { break }
            if let failure = state.failure { throw failure }
            guard ContinuousClock.now < deadline else {
                throw PostgresUnavailable("the database is not ready (unreachable or migrating)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let started = NIOLockedValueBox(false)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.client.withConnection { connection in
                    started.withLockedValue { $0 = true }
                    self.unreachable.withLockedValue { $0 = false }
                    return try await body(connection)
                }
            }
            group.addTask {
                await self.deadlines.sleep(until: deadline)
                return nil
            }
            while let next = try await group.next() {
                if let value = next {
                    group.cancelAll()
                    return value
                }
                if !started.withLockedValue({ $0 }) {
                    unreachable.withLockedValue { $0 = true }
                    group.cancelAll()
                    throw PostgresUnavailable("no database connection within \(wait)")
                }
            }
            throw PostgresUnavailable("the database call ended without an answer")
        }
    }

    /// A one-row durable write (the component's row of `harepost_probe`,
    /// made with the migrations): whether the database takes writes again.
    public func probeWrite() async throws {
        let component = self.component
        let logger = self.logger
        _ = try await withConnection { connection in
            try await connection.query(
                """
                INSERT INTO harepost_probe (component, written_at) VALUES (\(component), clock_timestamp())
                ON CONFLICT (component) DO UPDATE SET written_at = EXCLUDED.written_at
                """,
                logger: logger
            )
        }
    }

    /// ``withConnection(_:)`` in a transaction: committed when `body`
    /// returns, rolled back when it throws.
    public func withTransaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        do {
            return try await withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch let error as PostgresTransactionError {
            // What `body` threw (rolled back) is the caller's to handle as thrown.
            throw error.closureError ?? error
        }
    }
}
