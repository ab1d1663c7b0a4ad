import Foundation
import HarepostContracts
import HarepostPostgres
import HarepostProto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// The store on PostgreSQL, for several stores (and their dispatchers) on
/// one database. Every rule of the SQLite engine holds across processes:
/// claims skip rows another store has locked, a lease is checked inside the
/// recording `UPDATE` and stamped with the database's clock, idempotency
/// keys and links are upserts, and a send committed through any store wakes
/// the long polls of every store (`NOTIFY`, at most one in flight per store).
final class PostgresEngine: StorageEngine, Sendable {
    let database: PostgresBackend
    let logger: Logger
    /// Wakes this store's long polls; set by the service.
    let wake = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    private let notifier: CoalescedNotifier
    /// Destination and connection ids by tenant and origin, as the SQLite engine keeps them.
    let links = DestinationLinks()

    static let channel = "harepost_due"

    init(database: PostgresBackend, logger: Logger) {
        self.database = database
        self.logger = logger
        self.notifier = CoalescedNotifier(database: database, channel: Self.channel)
    }

    /// The longest a long poll sleeps without looking: the fallback for a
    /// lost notification (a connection that dropped while LISTENing).
    var maximumNap: Duration? { .seconds(1) }

    var isReady: Bool { database.isReady }

    /// Listens for sends committed through any store and wakes this store's
    /// long polls, reconnecting while the database is away; until cancelled.
    func listen() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await database.ready()
                try await database.client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        delay = .milliseconds(100)
                        // Work may have become due while not listening.
                        self.wake.withLockedValue { $0 }?()
                        for try await _ in notifications { self.wake.withLockedValue { $0 }?() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot listen for new work; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    // MARK: Domains

    func addDomain(accountID: String, domain: String, token: String, now: UnixMilliseconds) async throws -> DomainRecord
    {
        try await database.withConnection { connection in
            try await connection.query(
                """
                INSERT INTO domains (account_id, domain, token, status, created_at)
                VALUES (\(accountID), \(domain), \(token), 'pending', \(now))
                ON CONFLICT (account_id, domain) DO NOTHING
                """,
                logger: self.logger
            )
            return try await Self.domain(accountID: accountID, domain: domain, connection, self.logger)!
        }
    }

    func domains(accountID: String) async throws -> [DomainRecord] {
        try await database.withConnection { connection in
            try await PostgresRows.all(
                connection.query(
                    """
                    SELECT domain, token, status, created_at, verified_at FROM domains
                    WHERE account_id = \(accountID) ORDER BY domain
                    """,
                    logger: self.logger
                ),
                PostgresRows.domain
            )
        }
    }

    func markDomainVerified(accountID: String, domain: String, now: UnixMilliseconds) async throws -> DomainRecord {
        try await database.withConnection { connection in
            try await connection.query(
                """
                UPDATE domains SET status = 'verified', verified_at = \(now)
                WHERE account_id = \(accountID) AND domain = \(domain) AND status = 'pending'
                """,
                logger: self.logger
            )
            guard let record = try await Self.domain(accountID: accountID, domain: domain, connection, self.logger)
            else { throw StorageError.notFound }
            return record
        }
    }

    private static func domain(accountID: String, domain: String, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> DomainRecord?
    {
        try await PostgresRows.all(
            connection.query(
                """
                SELECT domain, token, status, created_at, verified_at FROM domains
                WHERE account_id = \(accountID) AND domain = \(domain)
                """,
                logger: logger
            ),
            PostgresRows.domain
        ).first
    }

    // MARK: Sends

    /// Sends wait here for the next batch: one INSERT of many rows, one
    /// commit (one WAL flush) for all of them.
    private let sends = CommitQueue<SendJob>()
    /// The most rows one batch inserts (a statement takes at most 65,535 parameters).
    static let sendBatchLimit = 500

    struct SendJob: Sendable {
        let delivery: NewDelivery
        let eventLoop: (any EventLoop)?
        let completion: @Sendable (Result<(record: DeliveryRecord, created: Bool), any Error>) -> Void
    }

    func insert(
        _ delivery: NewDelivery,
        on eventLoop: (any EventLoop)?,
        completion: @escaping @Sendable (Result<(record: DeliveryRecord, created: Bool), any Error>) -> Void
    ) {
        if sends.enqueue(SendJob(delivery: delivery, eventLoop: eventLoop, completion: completion)) {
            Task { await self.commitSends() }
        }
    }

    /// The committer: inserts batches until no send is waiting.
    private func commitSends() async {
        while true {
            let batch = sends.next(limit: Self.sendBatchLimit)
            if batch.isEmpty { return }
            let outcomes = await insert(batch.map(\.delivery))
            CommitAnswers.deliver(
                zip(batch, outcomes).map { job, outcome in (job.eventLoop, { job.completion(outcome) }) }
            )
        }
    }

    /// Stores many sends with one statement. When it fails for something
    /// about a send rather than the database, each send is tried alone, so a
    /// bad one fails alone.
    private func insert(_ deliveries: [NewDelivery]) async -> [Result<
        (record: DeliveryRecord, created: Bool), any Error
    >] {
        if deliveries.count > 1 {
            do {
                let inserted = try await insertTogether(deliveries)
                if inserted.contains(where: \.created) { notifier.poke() }
                return inserted.map { .success($0) }
            } catch  where PostgresFailure.storageReason(error) != nil {
                return deliveries.map { _ in .failure(error) }
            } catch {
                logger.debug("a batch of sends failed; trying each alone", metadata: ["error": "\(error)"])
            }
        }
        var outcomes: [Result<(record: DeliveryRecord, created: Bool), any Error>] = []
        for delivery in deliveries {
            do {
                outcomes.append(.success(try await insert(delivery)))
            } catch {
                outcomes.append(.failure(error))
            }
        }
        return outcomes
    }

    /// One INSERT of every send, in autocommit. A send whose idempotency key
    /// is taken (by an earlier send, or one in this batch) is answered with
    /// the delivery that holds the key.
    private func insertTogether(_ deliveries: [NewDelivery]) async throws -> [(record: DeliveryRecord, created: Bool)] {
        let logger = self.logger
        return try await database.withConnection { connection in
            let headers = deliveries.map { HeaderJSON.encode($0.headers) }
            var bindings = PostgresBindings(capacity: deliveries.count * PostgresStatements.insertParameterTypes.count)
            var rows: [String] = []
            for (index, delivery) in deliveries.enumerated() {
                let ids = try await self.links(of: delivery, connection)
                rows.append(PostgresStatements.insertRow(firstParameter: bindings.count + 1))
                PostgresStatements.appendInsert(delivery, headers: headers[index], links: ids, to: &bindings)
            }
            let sql =
                PostgresStatements.insertPrefix + rows.joined(separator: ", ")
                + PostgresStatements.insertSuffix + ", id"
            var made: [String: Int64] = [:]
            for row in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
                .collect()
            {
                let (seq, id) = try row.decode((Int64, String).self)
                made[id] = seq
            }
            var answers: [(record: DeliveryRecord, created: Bool)] = []
            for (index, delivery) in deliveries.enumerated() {
                if let seq = made[delivery.queueID] {
                    answers.append((DeliveryRecord(inserted: delivery, headersJSON: headers[index], seq: seq), true))
                    continue
                }
                guard let key = delivery.idempotencyKey,
                    let existing = try await Self.delivery(
                        byIdempotencyKey: key,
                        accountID: delivery.tenant.accountID,
                        connection,
                        logger
                    )
                else { throw StorageError.invalidState("a send was neither stored nor a repeat of a stored key") }
                answers.append((existing, false))
            }
            return answers
        }
    }

    /// One statement in the common case (links known, no key): the links
    /// are found or made once per tenant and origin and then remembered,
    /// and the insert commits on its own.
    func insert(_ delivery: NewDelivery) async throws -> (record: DeliveryRecord, created: Bool) {
        var delivery = delivery
        var tries = 0
        while true {
            tries += 1
            do {
                let inserted = try await insertOnce(delivery)
                if inserted.created { notifier.poke() }
                return inserted
            } catch  where PostgresFailure.isUniqueViolation(error) && tries < 3 {
                // An id another store made in the same millisecond (the
                // ON CONFLICT clauses cover every other unique key): the row
                // was refused, not overwritten, so a fresh id makes it.
                delivery = delivery.withQueueID(StoreIdentifiers.timeOrdered(StoreIdentifiers.deliveryPrefix))
            }
        }
    }

    private func insertOnce(_ delivery: NewDelivery) async throws -> (record: DeliveryRecord, created: Bool) {
        let headers = HeaderJSON.encode(delivery.headers)
        let logger = self.logger
        let inserted = try await database.withConnection { connection -> (DeliveryRecord, Bool) in
            let tenant = delivery.tenant
            if let key = delivery.idempotencyKey,
                let existing = try await Self.delivery(
                    byIdempotencyKey: key,
                    accountID: tenant.accountID,
                    connection,
                    logger
                )
            {
                return (existing, false)
            }
            let ids = try await self.links(of: delivery, connection)
            var bindings = PostgresBindings(capacity: PostgresStatements.insertParameterTypes.count)
            PostgresStatements.appendInsert(delivery, headers: headers, links: ids, to: &bindings)
            let seq = try await connection.run(PostgresStatements.InsertDelivery.self, bindings, logger: logger)
                .first?.decode(Int64.self)
            guard let seq else {
                // Another store committed the same key between the lookup and the insert.
                let existing = try await Self.delivery(
                    byIdempotencyKey: delivery.idempotencyKey ?? "",
                    accountID: tenant.accountID,
                    connection,
                    logger
                )
                guard let existing else { throw StorageError.invalidState("idempotency key conflict without a row") }
                return (existing, false)
            }
            let record = DeliveryRecord(inserted: delivery, headersJSON: headers, seq: seq)
            return (record, true)
        }
        return (inserted.0, inserted.1)
    }

    /// The destination and connection of a send's tenant and origin:
    /// remembered, or found or made and then remembered.
    private func links(of delivery: NewDelivery, _ connection: PostgresConnection) async throws
        -> DestinationLinks.IDs
    {
        let key = DestinationLinks.Key(
            accountID: delivery.tenant.accountID,
            environment: delivery.tenant.environment,
            origin: delivery.destinationOrigin
        )
        if let known = links[key] { return known }
        let ids = try await Self.findOrMakeLinks(of: delivery, connection, logger)
        links.remember(ids, for: key)
        return ids
    }

    /// The destination and connection of a send's tenant and origin, made
    /// when missing (each committed on its own: the rows are never changed,
    /// so one made for a send that then fails is simply there for the next).
    private static func findOrMakeLinks(of delivery: NewDelivery, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> DestinationLinks.IDs
    {
        let tenant = delivery.tenant
        // DO NOTHING rather than an update, which would lock the row and
        // serialise every send to one origin.
        let destinationID = try await Self.link(
            """
            INSERT INTO destinations (id, account_id, environment, origin, name, created_at)
            VALUES (\(StoreIdentifiers.timeOrdered("dest")), \(tenant.accountID), \(tenant.environment.jsonName),
                    \(delivery.destinationOrigin), \(delivery.destinationName), \(delivery.createdAt))
            ON CONFLICT (account_id, environment, origin) DO NOTHING RETURNING id
            """,
            else: """
                SELECT id FROM destinations WHERE account_id = \(tenant.accountID)
                AND environment = \(tenant.environment.jsonName) AND origin = \(delivery.destinationOrigin)
                """,
            connection,
            logger
        )
        let connectionID = try await Self.link(
            """
            INSERT INTO connections (id, account_id, environment, destination_id, name, created_at)
            VALUES (\(StoreIdentifiers.timeOrdered("conn")), \(tenant.accountID), \(tenant.environment.jsonName),
                    \(destinationID), \(delivery.connectionName), \(delivery.createdAt))
            ON CONFLICT (account_id, environment, destination_id) DO NOTHING RETURNING id
            """,
            else: """
                SELECT id FROM connections WHERE account_id = \(tenant.accountID)
                AND environment = \(tenant.environment.jsonName) AND destination_id = \(destinationID)
                """,
            connection,
            logger
        )
        return DestinationLinks.IDs(destinationID: destinationID, connectionID: connectionID)
    }

    /// The id `insert` made, or else the one `lookup` finds (made by another
    /// transaction, which the insert waited for).
    private static func link(
        _ insert: PostgresQuery,
        else lookup: PostgresQuery,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> String {
        if let made = try await connection.query(insert, logger: logger).collect().first {
            return try made.decode(String.self)
        }
        guard let found = try await connection.query(lookup, logger: logger).collect().first else {
            throw StorageError.invalidState("a destination or connection row vanished")
        }
        return try found.decode(String.self)
    }

    private static func delivery(
        byIdempotencyKey key: String,
        accountID: String,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> DeliveryRecord? {
        try PostgresRows.all(
            await connection.run(
                PostgresStatements.DeliveryByIdempotencyKey.self,
                .of(accountID, key),
                logger: logger
            ),
            PostgresRows.delivery
        ).first
    }

    // MARK: Lookups

    func delivery(_ queueID: String, tenant: Tenant) async throws -> (DeliveryRecord, [AttemptRecord]) {
        let logger = self.logger
        return try await database.withConnection { connection in
            guard
                let delivery = try PostgresRows.all(
                    await connection.run(
                        PostgresStatements.DeliveryByID.self,
                        .of(queueID, tenant.accountID, tenant.environment.jsonName),
                        logger: logger
                    ),
                    PostgresRows.delivery
                ).first
            else { throw StorageError.notFound }
            // Every recorded attempt counts in `attempts`: none counted, none stored.
            guard delivery.attempts > 0 else { return (delivery, []) }
            let attempts = try PostgresRows.all(
                await connection.run(PostgresStatements.AttemptsOfDelivery.self, .of(delivery.seq), logger: logger),
                PostgresRows.attempt
            )
            return (delivery, attempts)
        }
    }

    func deliveries(tenant: Tenant, status: StoreV1.DeliveryStatus?, before: Int64?, limit: Int) async throws
        -> [DeliveryRecord]
    {
        let logger = self.logger
        return try await database.withConnection { connection in
            try PostgresRows.all(
                await connection.run(
                    PostgresStatements.DeliveriesPage.self,
                    .of(tenant.accountID, tenant.environment.jsonName, status?.jsonName, before, Int64(limit)),
                    logger: logger
                ),
                PostgresRows.delivery
            )
        }
    }

    func attempts(tenant: Tenant, filter: AttemptFilter, limit: Int, offset: Int) async throws -> (
        records: [AttemptRecord], total: Int64
    ) {
        let logger = self.logger
        return try await database.withConnection { connection in
            func conditions() -> PostgresQuery {
                """
                WHERE a.account_id = \(tenant.accountID) AND a.environment = \(tenant.environment.jsonName)
                AND (\(filter.eventID)::text IS NULL OR d.id = \(filter.eventID))
                AND (\(filter.connectionID)::text IS NULL OR d.connection_id = \(filter.connectionID))
                AND (\(filter.destinationID)::text IS NULL OR d.destination_id = \(filter.destinationID))
                AND (\(filter.outcome?.jsonName)::text IS NULL OR a.outcome = \(filter.outcome?.jsonName))
                AND (\(filter.isDLQ)::boolean IS NULL OR a.is_dlq = \(filter.isDLQ))
                """
            }
            var count = conditions()
            count.sql = "SELECT count(*) FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq " + count.sql
            let total = try await connection.query(count, logger: logger).collect().first?.decode(Int64.self) ?? 0
            var page = conditions()
            page.sql =
                StoreColumns.attemptSelect + " " + page.sql + " ORDER BY a.seq DESC LIMIT \(limit) OFFSET \(offset)"
            let records = try await PostgresRows.all(connection.query(page, logger: logger), PostgresRows.attempt)
            return (records, total)
        }
    }

    // MARK: Queue

    func claimDue(now: UnixMilliseconds, limit: Int, leaseMarginMilliseconds: Int64, workerID: String) async throws
        -> [LeasedDelivery]
    {
        let logger = self.logger
        return try await database.withConnection { connection in
            try PostgresRows.all(
                await connection.run(
                    PostgresStatements.ClaimDue.self,
                    .of(Int64(limit), leaseMarginMilliseconds, workerID),
                    logger: logger
                )
            ) { columns in
                let delivery = try PostgresRows.delivery(&columns)
                let leaseID: String = try columns.next()
                let expiresAt: Int64 = try columns.next()
                return LeasedDelivery(
                    delivery: delivery,
                    leaseID: leaseID,
                    leaseExpiresAt: expiresAt,
                    attemptNumber: delivery.attempts + 1
                )
            }
        }
    }

    func nextDueTime(now: UnixMilliseconds) async throws -> UnixMilliseconds? {
        let logger = self.logger
        return try await database.withConnection { connection in
            // Relative to the database's clock, then placed on the caller's.
            try await connection.query(
                """
                SELECT min(greatest(next_attempt_at, coalesce(lease_expires_at, 0))) - \(unescaped: PostgresSchema.now)
                FROM deliveries WHERE next_attempt_at IS NOT NULL
                """,
                logger: logger
            ).collect().first?.decode(Int64?.self).map { now + $0 }
        }
    }

    func queueDepth(now: UnixMilliseconds) async throws -> QueueDepth {
        let logger = self.logger
        return try await database.withConnection { connection in
            let row = try await connection.query(
                """
                SELECT count(*),
                       count(*) FILTER (WHERE lease_expires_at > \(unescaped: PostgresSchema.now)),
                       count(*) FILTER (WHERE greatest(next_attempt_at, coalesce(lease_expires_at, 0))
                                        <= \(unescaped: PostgresSchema.now))
                FROM deliveries WHERE next_attempt_at IS NOT NULL
                """,
                logger: logger
            ).collect().first
            guard let row else { return QueueDepth(pending: 0, due: 0, leased: 0) }
            var columns = PostgresRows.Columns(row)
            let (pending, leased, due) = try (
                columns.next(Int64.self), columns.next(Int64.self), columns.next(Int64.self)
            )
            return QueueDepth(pending: Int(pending), due: Int(due), leased: Int(leased))
        }
    }

    /// Attempts wait here for the next batch: one statement, one commit for all.
    private let records = CommitQueue<RecordJob>()

    struct RecordJob: Sendable {
        let report: AttemptReport
        let queueID: String
        let leaseID: String
        let now: UnixMilliseconds
        let completion: @Sendable (Result<StoreV1.DeliveryStatus, any Error>) -> Void
    }

    func record(_ report: AttemptReport, queueID: String, leaseID: String, now: UnixMilliseconds) async throws
        -> StoreV1.DeliveryStatus
    {
        try await withUnsafeThrowingContinuation { continuation in
            let job = RecordJob(report: report, queueID: queueID, leaseID: leaseID, now: now) {
                continuation.resume(with: $0)
            }
            if records.enqueue(job) { Task { await self.commitRecords() } }
        }
    }

    /// The committer: records batches until no attempt is waiting.
    private func commitRecords() async {
        while true {
            let batch = records.next(limit: Self.sendBatchLimit)
            if batch.isEmpty { return }
            let outcomes = await record(batch)
            if outcomes.contains(where: { (try? $0.get()) == .retrying }) { notifier.poke() }
            for (job, outcome) in zip(batch, outcomes) { job.completion(outcome) }
        }
    }

    /// Records many attempts with one statement. When it fails for something
    /// about an attempt rather than the database, each is recorded alone.
    private func record(_ batch: [RecordJob]) async -> [Result<StoreV1.DeliveryStatus, any Error>] {
        do {
            return try await recordTogether(batch)
        } catch  where PostgresFailure.storageReason(error) != nil {
            return batch.map { _ in .failure(error) }
        } catch {
            logger.debug("a batch of attempts failed; recording each alone", metadata: ["error": "\(error)"])
        }
        var outcomes: [Result<StoreV1.DeliveryStatus, any Error>] = []
        for job in batch {
            var tries = 0
            while true {
                tries += 1
                do {
                    outcomes.append(contentsOf: try await recordTogether([job]))
                    break
                } catch  where PostgresFailure.isUniqueViolation(error) && tries < 3 {
                    // An attempt id another store made in the same millisecond
                    // (one statement: nothing was changed); a fresh id makes it.
                } catch {
                    outcomes.append(.failure(error))
                    break
                }
            }
        }
        return outcomes
    }

    /// One statement for the whole batch (prepared when it is one attempt);
    /// an attempt whose lease is not held, or whose delivery is gone, fails
    /// alone.
    private func recordTogether(_ batch: [RecordJob]) async throws -> [Result<StoreV1.DeliveryStatus, any Error>] {
        let logger = self.logger
        let attemptIDs = batch.map { _ in StoreIdentifiers.timeOrdered("att") }
        var bindings = PostgresBindings(capacity: batch.count * PostgresStatements.recordParameters.count)
        var rows: [String] = []
        for (job, attemptID) in zip(batch, attemptIDs) {
            rows.append(PostgresStatements.recordRow(firstParameter: bindings.count + 1))
            PostgresStatements.appendRecord(
                job.report,
                queueID: job.queueID,
                leaseID: job.leaseID,
                attemptID: attemptID,
                now: job.now,
                to: &bindings
            )
        }
        let sql = PostgresStatements.recordSQL(rows: rows)
        let binds = bindings
        return try await database.withConnection { connection in
            let stored =
                batch.count == 1
                ? try await connection.run(PostgresStatements.RecordAttempt.self, binds, logger: logger)
                : try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
            let recorded = Set(try stored.map { try $0.decode(String.self) })
            var outcomes: [Result<StoreV1.DeliveryStatus, any Error>] = []
            for (job, attemptID) in zip(batch, attemptIDs) {
                if recorded.contains(attemptID) {
                    outcomes.append(.success(job.report.newStatus))
                    continue
                }
                let exists = try await connection.run(
                    PostgresStatements.DeliveryExists.self,
                    .of(job.queueID),
                    logger: logger
                )
                outcomes.append(.failure(exists.isEmpty ? StorageError.notFound : StorageError.leaseNotHeld))
            }
            return outcomes
        }
    }

    func retry(_ queueID: String, tenant: Tenant, now: UnixMilliseconds) async throws -> DeliveryRecord {
        let logger = self.logger
        let record = try await database.withTransaction { connection -> DeliveryRecord in
            guard
                let current = try await PostgresRows.all(
                    connection.query(
                        """
                        SELECT \(unescaped: StoreColumns.delivery) FROM deliveries
                        WHERE id = \(queueID) AND account_id = \(tenant.accountID)
                        AND environment = \(tenant.environment.jsonName) FOR UPDATE
                        """,
                        logger: logger
                    ),
                    PostgresRows.delivery
                ).first
            else { throw StorageError.notFound }
            guard current.status == .deadLetter || current.status == .rejected else {
                throw StorageError.invalidState(
                    "only a rejected or dead_letter delivery can be retried; this one is \(current.status.jsonName)"
                )
            }
            return try await PostgresRows.all(
                connection.query(
                    """
                    UPDATE deliveries SET status = 'retrying', next_attempt_at = \(now), next_trigger = 'manual',
                        updated_at = \(now), max_attempts = greatest(max_attempts, attempts + 1)
                    WHERE seq = \(current.seq)
                    RETURNING \(unescaped: StoreColumns.delivery)
                    """,
                    logger: logger
                ),
                PostgresRows.delivery
            )[0]
        }
        notifier.poke()
        return record
    }

    // MARK: Health

    func storageFailure(_ error: any Error) -> String? {
        PostgresFailure.storageReason(error)
    }

    func probeWrite() async throws {
        try await database.probeWrite()
    }
}

/// Sends `NOTIFY` after commits, at most one at a time: pokes while one is
/// on its way are folded into one more. A NOTIFY inside every send's
/// transaction would take the database's notification lock at each commit
/// and serialise them.
final class CoalescedNotifier: Sendable {
    private let database: PostgresBackend
    private let channel: String
    private let state = NIOLockedValueBox((sending: false, again: false))

    init(database: PostgresBackend, channel: String) {
        self.database = database
        self.channel = channel
    }

    func poke() {
        let start = state.withLockedValue { state -> Bool in
            if state.sending {
                state.again = true
                return false
            }
            state.sending = true
            return true
        }
        guard start else { return }
        Task { await send() }
    }

    private func send() async {
        while true {
            let channel = self.channel
            _ = try? await database.withConnection { connection in
                try await connection.query("SELECT pg_notify(\(channel), '')", logger: Logger(label: "harepost.store"))
            }
            let more = state.withLockedValue { state -> Bool in
                if state.again {
                    state.again = false
                    return true
                }
                state.sending = false
                return false
            }
            if !more { return }
        }
    }
}
