import Foundation
import GRDB
import HarepostContracts
import HarepostProto
import NIOCore

extension SQLiteEngine {
    // MARK: Domains

    func addDomain(accountID: String, domain: String, token: String, now: UnixMilliseconds) async throws -> DomainRecord
    {
        try await commits.write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO domains (account_id, domain, token, status, created_at) VALUES (?, ?, ?, 'pending', ?)
                    ON CONFLICT (account_id, domain) DO NOTHING
                    """
            ).execute(arguments: [accountID, domain, token, now]
            )
            return try Self.domain(accountID: accountID, domain: domain, db)!
        }
    }

    func domains(accountID: String) async throws -> [DomainRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM domains WHERE account_id = ? ORDER BY domain"),
                arguments: [accountID]
            )
            .map(Self.domainRecord)
        }
    }

    func markDomainVerified(accountID: String, domain: String, now: UnixMilliseconds) async throws -> DomainRecord {
        try await commits.write { db in
            try db.cachedStatement(
                sql:
                    "UPDATE domains SET status = 'verified', verified_at = ? WHERE account_id = ? AND domain = ? AND status = 'pending'"
            ).execute(arguments: [now, accountID, domain]
            )
            guard let record = try Self.domain(accountID: accountID, domain: domain, db) else {
                throw StorageError.notFound
            }
            return record
        }
    }

    private static func domain(accountID: String, domain: String, _ db: Database) throws -> DomainRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM domains WHERE account_id = ? AND domain = ?"),
            arguments: [accountID, domain]
        )
        .map(domainRecord)
    }

    private static func domainRecord(_ row: Row) -> DomainRecord {
        DomainRecord(
            domain: row["domain"],
            token: row["token"],
            status: row["status"] ?? .unspecified,
            createdAt: row["created_at"],
            verifiedAt: row["verified_at"]
        )
    }

    // MARK: Sends

    func insert(
        _ delivery: NewDelivery,
        on eventLoop: (any EventLoop)?,
        completion: @escaping @Sendable (Result<(record: DeliveryRecord, created: Bool), any Error>) -> Void
    ) {
        let linkKey = DestinationLinks.Key(
            accountID: delivery.tenant.accountID,
            environment: delivery.tenant.environment,
            origin: delivery.destinationOrigin
        )
        let known = links[linkKey]
        let links = self.links
        // The row is prepared here, on the caller's thread (its links too,
        // when cached): the writer is the one serial stage of every send, so
        // it only checks the idempotency key, looks up links it must, binds
        // and steps.
        let headers = HeaderJSON.encode(delivery.headers)
        let row = DeliveryInsertRow(delivery, headersJSON: headers)
        // The row just written, without reading it back; its seq is known
        // once it is written.
        let written = DeliveryRecord(inserted: delivery, headersJSON: headers, seq: 0)
        commits.write(
            { db -> Inserted in
                if let key = delivery.idempotencyKey,
                    let existing = try SQLiteRows.first(
                        db.cachedStatement(sql: SQLiteStatements.deliveryByIdempotencyKey),
                        arguments: [delivery.tenant.accountID, key],
                        SQLiteRows.delivery
                    )
                {
                    return .existing(existing)
                }
                let ids = try known ?? Self.links(of: delivery, db)
                let statement = try db.cachedStatement(sql: SQLiteStatements.insertDelivery)
                try row.bind(to: statement, connectionID: ids.connectionID, destinationID: ids.destinationID)
                try statement.execute()
                return .created(seq: db.lastInsertedRowID, links: known == nil ? ids : nil)
            },
            on: eventLoop
        ) { result in
            completion(
                result.map { inserted in
                    switch inserted {
                    case .existing(let record):
                        return (record, false)
                    case .created(let seq, let ids):
                        // Committed: the ids name rows every later transaction sees.
                        if let ids { links.remember(ids, for: linkKey) }
                        var record = written
                        record.seq = seq
                        return (record, true)
                    }
                }
            )
        }
    }

    /// What an insert's job hands back from the writer: as little as it can,
    /// so that the record is put together on the caller's side.
    private enum Inserted: Sendable {
        /// The delivery already stored under the send's idempotency key.
        case existing(DeliveryRecord)
        /// The new row's seq, and its links when they were looked up (not yet remembered).
        case created(seq: Int64, links: DestinationLinks.IDs?)
    }

    /// The destination of the delivery's origin and its connection, created when missing.
    private static func links(of delivery: NewDelivery, _ db: Database) throws -> DestinationLinks.IDs {
        let destinationID = try upsert(
            table: "destinations",
            key: "origin",
            value: delivery.destinationOrigin,
            extra: ("name", delivery.destinationName),
            prefix: "dest",
            tenant: delivery.tenant,
            now: delivery.createdAt,
            db
        )
        let connectionID = try upsert(
            table: "connections",
            key: "destination_id",
            value: destinationID,
            extra: ("name", delivery.connectionName),
            prefix: "conn",
            tenant: delivery.tenant,
            now: delivery.createdAt,
            db
        )
        return DestinationLinks.IDs(destinationID: destinationID, connectionID: connectionID)
    }

    /// The id of the tenant's row in `table` whose `key` is `value`, created when missing.
    private static func upsert(
        table: String,
        key: String,
        value: String,
        extra: (column: String, value: String),
        prefix: String,
        tenant: Tenant,
        now: UnixMilliseconds,
        _ db: Database
    ) throws -> String {
        let lookup = "SELECT id FROM \(table) WHERE account_id = ? AND environment = ? AND \(key) = ?"
        if let id = try String.fetchOne(
            db.cachedStatement(sql: lookup),
            arguments: [tenant.accountID, tenant.environment, value]
        ) {
            return id
        }
        let id = StoreIdentifiers.timeOrdered(prefix)
        try db.cachedStatement(
            sql:
                "INSERT INTO \(table) (id, account_id, environment, \(key), \(extra.column), created_at) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [id, tenant.accountID, tenant.environment, value, extra.value, now]
        )
        return id
    }

    // MARK: Lookups

    func delivery(_ queueID: String, tenant: Tenant) throws -> (DeliveryRecord, [AttemptRecord]) {
        try pointRead { db in
            let delivery = try Self.delivery(queueID, tenant: tenant, db)
            let attempts = try SQLiteRows.all(
                db.cachedStatement(sql: SQLiteStatements.attemptsOfDelivery),
                arguments: [delivery.seq],
                SQLiteRows.attempt
            )
            return (delivery, attempts)
        }
    }

    func deliveries(tenant: Tenant, status: StoreV1.DeliveryStatus?, before: Int64?, limit: Int) throws
        -> [DeliveryRecord]
    {
        try pointRead { db in
            var sql = "SELECT \(StoreColumns.delivery) FROM deliveries WHERE account_id = ? AND environment = ?"
            var arguments: StatementArguments = [tenant.accountID, tenant.environment]
            if let status {
                sql += " AND status = ?"
                arguments += [status]
            }
            if let before {
                sql += " AND seq < ?"
                arguments += [before]
            }
            sql += " ORDER BY seq DESC LIMIT ?"
            arguments += [limit]
            return try SQLiteRows.all(db.cachedStatement(sql: sql), arguments: arguments, SQLiteRows.delivery)
        }
    }

    func attempts(tenant: Tenant, filter: AttemptFilter, limit: Int, offset: Int) async throws -> (
        records: [AttemptRecord], total: Int64
    ) {
        try await pool.read { db in
            var conditions = ["a.account_id = ?", "a.environment = ?"]
            var arguments: StatementArguments = [tenant.accountID, tenant.environment]
            let optional: [(condition: String, value: (any DatabaseValueConvertible)?)] = [
                ("d.id = ?", filter.eventID),
                ("d.connection_id = ?", filter.connectionID),
                ("d.destination_id = ?", filter.destinationID),
                ("a.outcome = ?", filter.outcome),
                ("a.is_dlq = ?", filter.isDLQ),
            ]
            for (condition, value) in optional {
                guard let value else { continue }
                conditions.append(condition)
                arguments += [value]
            }
            let whereClause = " WHERE " + conditions.joined(separator: " AND ")
            let total =
                try Int64.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT count(*) FROM attempts a JOIN deliveries d ON d.seq = a.delivery_seq" + whereClause
                    ),
                    arguments: arguments
                ) ?? 0
            let records = try SQLiteRows.all(
                db.cachedStatement(
                    sql: StoreColumns.attemptSelect + whereClause + " ORDER BY a.seq DESC LIMIT ? OFFSET ?"
                ),
                arguments: arguments + [limit, offset],
                SQLiteRows.attempt
            )
            return (records, total)
        }
    }

    /// The tenant's delivery row; `notFound` for another tenant's id.
    private static func delivery(_ queueID: String, tenant: Tenant, _ db: Database) throws -> DeliveryRecord {
        guard
            let record = try SQLiteRows.first(
                db.cachedStatement(sql: SQLiteStatements.deliveryOfTenant),
                arguments: [queueID, tenant.accountID, tenant.environment],
                SQLiteRows.delivery
            )
        else { throw StorageError.notFound }
        return record
    }

    // MARK: Queue

    func claimDue(now: UnixMilliseconds, limit: Int, leaseMarginMilliseconds: Int64, workerID: String) async throws
        -> [LeasedDelivery]
    {
        try await commits.write { db in
            let records = try SQLiteRows.all(
                db.cachedStatement(sql: SQLiteStatements.due),
                arguments: [now, now, limit],
                SQLiteRows.delivery
            )
            return try records.map { record in
                let leaseID = StoreIdentifiers.random("lease")
                let expiresAt = now + record.policy.timeoutMilliseconds + leaseMarginMilliseconds
                // A lease still set is one that expired with no attempt
                // recorded: that attempt may have reached the target (the
                // dispatcher or the store died before the record). It counts,
                // so this attempt carries the next number.
                let attempts = try Int64.fetchOne(
                    db.cachedStatement(
                        sql: """
                            UPDATE deliveries SET lease_id = ?, lease_expires_at = ?,
                                attempts = attempts + (lease_id IS NOT NULL)
                            WHERE seq = ? RETURNING attempts
                            """
                    ),
                    arguments: [leaseID, expiresAt, record.seq]
                )
                return LeasedDelivery(
                    delivery: record,
                    leaseID: leaseID,
                    leaseExpiresAt: expiresAt,
                    attemptNumber: (attempts ?? record.attempts) + 1
                )
            }
        }
    }

    func nextDueTime(now: UnixMilliseconds) async throws -> UnixMilliseconds? {
        try await pool.read { db in
            try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT min(max(next_attempt_at, coalesce(lease_expires_at, 0))) FROM deliveries
                        WHERE next_attempt_at IS NOT NULL
                        """
                )
            )
        }
    }

    func queueDepth(now: UnixMilliseconds) async throws -> QueueDepth {
        try await pool.read { db in
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT count(*) AS pending,
                               coalesce(sum(lease_expires_at > :now), 0) AS leased,
                               coalesce(sum(max(next_attempt_at, coalesce(lease_expires_at, 0)) <= :now), 0) AS due
                        FROM deliveries WHERE next_attempt_at IS NOT NULL
                        """
                ),
                arguments: ["now": now]
            )
            return QueueDepth(pending: row?["pending"] ?? 0, due: row?["due"] ?? 0, leased: row?["leased"] ?? 0)
        }
    }

    func record(_ report: AttemptReport, queueID: String, leaseID: String, now: UnixMilliseconds) async throws
        -> StoreV1.DeliveryStatus
    {
        try await commits.write { db in
            let leased = try SQLiteRows.first(
                db.cachedStatement(sql: SQLiteStatements.deliveryWithLease),
                arguments: [queueID]
            ) { columns in
                let delivery = try SQLiteRows.delivery(&columns)
                let holder: String? = try columns.nextOrNil()
                let expiresAt: Int64? = try columns.nextOrNil()
                return (delivery, holder, expiresAt ?? 0)
            }
            guard let (delivery, holder, expiresAt) = leased else { throw StorageError.notFound }
            guard holder == leaseID, expiresAt > now else { throw StorageError.leaseNotHeld }
            let terminal = report.newStatus != .retrying
            let deadLettered = report.newStatus == .deadLetter || report.newStatus == .rejected
            try db.cachedStatement(
                sql: """
                    INSERT INTO attempts (
                        id, delivery_seq, account_id, environment, attempt_number, trigger_type, outcome, http_status,
                        duration_ms, error, request_url, request_method, request_headers, request_body_size,
                        response_headers, response_body, created_at, next_retry_at, is_dlq, dlq_at
                    ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                StoreIdentifiers.timeOrdered("att"), delivery.seq, delivery.tenant.accountID,
                delivery.tenant.environment,
                delivery.attempts + 1, delivery.nextTrigger, report.outcome, report.httpStatus,
                report.durationMilliseconds, report.error, report.requestURL, report.requestMethod,
                report.requestHeadersJSON, report.requestBodySize, report.responseHeadersJSON, report.responseBody,
                now, terminal ? nil : report.nextAttemptAt, deadLettered, deadLettered ? now : nil,
            ]
            )
            try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET status = ?, attempts = attempts + 1, last_status = ?, updated_at = ?,
                        next_attempt_at = ?, next_trigger = 'retry', lease_id = NULL, lease_expires_at = NULL
                    WHERE seq = ?
                    """
            ).execute(arguments: [
                report.newStatus, report.httpStatus, now, terminal ? nil : report.nextAttemptAt, delivery.seq,
            ]
            )
            return report.newStatus
        }
    }

    func retry(_ queueID: String, tenant: Tenant, now: UnixMilliseconds) async throws -> DeliveryRecord {
        try await commits.write { db in
            let current = try Self.delivery(queueID, tenant: tenant, db)
            guard current.status == .deadLetter || current.status == .rejected else {
                throw StorageError.invalidState(
                    "only a rejected or dead_letter delivery can be retried; this one is \(current.status.jsonName)"
                )
            }
            try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET status = 'retrying', next_attempt_at = ?, next_trigger = 'manual', updated_at = ?,
                        max_attempts = max(max_attempts, attempts + 1)
                    WHERE seq = ?
                    """
            ).execute(arguments: [now, now, current.seq]
            )
            return try SQLiteRows.first(
                db.cachedStatement(sql: SQLiteStatements.deliveryBySeq),
                arguments: [current.seq],
                SQLiteRows.delivery
            )!
        }
    }
}

/// The texts of the store's fixed statements, built once. GRDB finds a
/// prepared statement by its text, and interpolating the column list on every
/// call allocated a new string on the lookup path.
enum SQLiteStatements {
    /// A new delivery; its links (connection, destination) are the last two parameters.
    static let insertDelivery = """
        INSERT INTO deliveries (
            id, account_id, environment, target, method, headers, body, metadata, sign, idempotency_key,
            max_attempts, backoff, base_delay_ms, max_delay_ms, jitter, timeout_ms, respect_retry_after,
            created_at, updated_at, next_attempt_at, request_id, connection_id, destination_id,
            status, next_trigger
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 'initial')
        """
    static let deliveryOfTenant =
        "SELECT \(StoreColumns.delivery) FROM deliveries WHERE id = ? AND account_id = ? AND environment = ?"
    static let deliveryByIdempotencyKey =
        "SELECT \(StoreColumns.delivery) FROM deliveries WHERE account_id = ? AND idempotency_key = ?"
    static let deliveryBySeq = "SELECT \(StoreColumns.delivery) FROM deliveries WHERE seq = ?"
    /// With the lease columns after the delivery's.
    static let deliveryWithLease =
        "SELECT \(StoreColumns.delivery), lease_id, lease_expires_at FROM deliveries WHERE id = ?"
    static let attemptsOfDelivery = StoreColumns.attemptSelect + " WHERE a.delivery_seq = ? ORDER BY a.attempt_number"
    static let due = """
        SELECT \(StoreColumns.delivery) FROM deliveries
        WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?
        AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
        ORDER BY next_attempt_at LIMIT ?
        """
}
