import Foundation
import HarepostContracts
import HarepostProto
import Logging
import NIOCore
import PostgresNIO

/// SQL that PostgreSQL parses and plans once per connection and then only
/// binds and runs: the store's hot statements (lookups, sends, claims,
/// records), where parsing and planning each time cost the server more than
/// running them.
protocol PreparedSQL {
    static var sql: String { get }
}

/// A ``PreparedSQL`` with this call's values, as postgres-nio runs it.
struct Prepared<Statement: PreparedSQL>: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static var name: String { "harepost.\(Statement.self)" }
    static var sql: String { Statement.sql }

    let bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension PostgresConnection {
    /// Runs a prepared statement with `bindings` (in the order of its `$n`) and returns its rows.
    func run<Statement: PreparedSQL>(_ statement: Statement.Type, _ bindings: PostgresBindings, logger: Logger)
        async throws -> [PostgresRow]
    {
        var rows: [PostgresRow] = []
        for try await row in try await execute(Prepared<Statement>(bindings: bindings), logger: logger) {
            rows.append(row)
        }
        return rows
    }
}

extension PostgresBindings {
    /// Bindings for the values in order: `$1`, `$2`, …; nil binds NULL.
    static func of<each Value: PostgresNonThrowingEncodable>(_ values: repeat (each Value)?) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in repeat each values {
            if let value { bindings.append(value) } else { bindings.appendNull() }
        }
        return bindings
    }
}

/// The store's prepared statements. Every parameter has a cast, so its type
/// never depends on inference (a value is sent in binary, as its Swift type).
enum PostgresStatements {
    /// The delivery columns with a table alias, for statements that join.
    static let deliveryColumns = StoreColumns.delivery.split(separator: ",")
        .map { "d." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    /// $1 queue id, $2 account, $3 environment.
    enum DeliveryByID: PreparedSQL {
        static let sql = """
            SELECT \(StoreColumns.delivery) FROM deliveries
            WHERE id = $1::text AND account_id = $2::text AND environment = $3::text
            """
    }

    /// $1 delivery seq.
    enum AttemptsOfDelivery: PreparedSQL {
        static let sql = StoreColumns.attemptSelect + " WHERE a.delivery_seq = $1::bigint ORDER BY a.attempt_number"
    }

    /// $1 account, $2 environment, $3 status or NULL, $4 before or NULL, $5 limit.
    enum DeliveriesPage: PreparedSQL {
        static let sql = """
            SELECT \(StoreColumns.delivery) FROM deliveries
            WHERE account_id = $1::text AND environment = $2::text
            AND ($3::text IS NULL OR status = $3::text) AND ($4::bigint IS NULL OR seq < $4::bigint)
            ORDER BY seq DESC LIMIT $5::bigint
            """
    }

    /// $1 account, $2 idempotency key.
    enum DeliveryByIdempotencyKey: PreparedSQL {
        static let sql = """
            SELECT \(StoreColumns.delivery) FROM deliveries
            WHERE account_id = $1::text AND idempotency_key = $2::text
            """
    }

    /// The parameters of a new delivery's row, by type: its columns
    /// (``insertColumns``) in order, except that `created_at` (the 18th)
    /// also fills `updated_at` and `next_attempt_at`.
    static let insertParameterTypes = [
        "text", "text", "text", "text", "text", "text", "bytea", "text", "boolean", "text", "bigint", "text",
        "bigint", "bigint", "text", "bigint", "boolean", "bigint", "text", "text", "text",
    ]

    static let insertColumns = """
        id, account_id, environment, target, method, headers, body, metadata, sign, idempotency_key,
        max_attempts, backoff, base_delay_ms, max_delay_ms, jitter, timeout_ms, respect_retry_after,
        created_at, updated_at, next_attempt_at, request_id, connection_id, destination_id, status, next_trigger
        """

    static let insertPrefix = "INSERT INTO deliveries (\(insertColumns)) VALUES "
    /// A key that is taken makes no row (the caller finds the one holding it); returns each new row's seq.
    static let insertSuffix = """
         ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING seq
        """

    /// `$first::type`, `$(first+1)::type`, …: one cast parameter per type.
    static func placeholders(_ types: [String], from first: Int) -> [String] {
        types.enumerated().map { index, type in "$\(first + index)::\(type)" }
    }

    /// One row of VALUES whose parameters start at `$firstParameter`.
    static func insertRow(firstParameter: Int) -> String {
        var cells = placeholders(insertParameterTypes, from: firstParameter)
        let created = cells[17]
        cells.insert(contentsOf: [created, created], at: 18)
        return "(" + cells.joined(separator: ", ") + ", 'queued', 'initial')"
    }

    /// Appends a new delivery's parameters, in ``insertParameterTypes``' order.
    static func appendInsert(
        _ delivery: NewDelivery,
        headers: String,
        links: DestinationLinks.IDs,
        to bindings: inout PostgresBindings
    ) {
        let policy = delivery.policy
        bindings.append(delivery.queueID)
        bindings.append(delivery.tenant.accountID)
        bindings.append(delivery.tenant.environment.jsonName)
        bindings.append(delivery.target)
        bindings.append(delivery.method)
        bindings.append(headers)
        bindings.append(ByteBuffer(bytes: delivery.body))
        bindings.append(delivery.metadataJSON)
        bindings.append(delivery.sign)
        bindings.append(delivery.idempotencyKey)
        bindings.append(policy.maxAttempts)
        bindings.append(policy.backoff.jsonName)
        bindings.append(policy.baseDelayMilliseconds)
        bindings.append(policy.maxDelayMilliseconds)
        bindings.append(policy.jitter.jsonName)
        bindings.append(policy.timeoutMilliseconds)
        bindings.append(policy.respectRetryAfter)
        bindings.append(delivery.createdAt)
        bindings.append(delivery.requestID)
        bindings.append(links.connectionID)
        bindings.append(links.destinationID)
    }

    /// One new delivery (``appendInsert(_:headers:links:to:)``), or nothing when its idempotency key is taken.
    enum InsertDelivery: PreparedSQL {
        static let sql = insertPrefix + insertRow(firstParameter: 1) + insertSuffix
    }

    /// Leases up to $1 due deliveries for $2 ms past their timeout to worker $3.
    /// A lease still set is one that expired with no attempt recorded: that
    /// attempt may have reached the target, so it counts.
    enum ClaimDue: PreparedSQL {
        static let sql = """
            WITH due AS (
                SELECT seq FROM deliveries
                WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= \(PostgresSchema.now)
                AND (lease_expires_at IS NULL OR lease_expires_at <= \(PostgresSchema.now))
                ORDER BY next_attempt_at LIMIT $1::bigint
                FOR UPDATE SKIP LOCKED
            )
            UPDATE deliveries d SET
                lease_id = 'lease_' || replace(gen_random_uuid()::text, '-', ''),
                lease_expires_at = \(PostgresSchema.now) + d.timeout_ms + $2::bigint,
                attempts = d.attempts + (CASE WHEN d.lease_id IS NULL THEN 0 ELSE 1 END),
                worker_id = $3::text
            FROM due WHERE d.seq = due.seq
            RETURNING \(deliveryColumns), d.lease_id, d.lease_expires_at
            """
    }

    /// The parameters of one recorded attempt, by name and type, in order.
    static let recordParameters: [(name: String, type: String)] = [
        ("queue_id", "text"), ("lease_id", "text"), ("status", "text"), ("http_status", "bigint"),
        ("now", "bigint"), ("next_attempt_at", "bigint"), ("attempt_id", "text"), ("outcome", "text"),
        ("duration_ms", "bigint"), ("error", "text"), ("request_url", "text"), ("request_method", "text"),
        ("request_headers", "text"), ("request_body_size", "bigint"), ("response_headers", "text"),
        ("response_body", "text"), ("is_dlq", "boolean"),
    ]

    /// Ends the leases of the attempts in `rows` (VALUES rows of
    /// ``recordParameters``) and stores the attempts, in one statement:
    /// each lease is checked in the UPDATE, against the database's clock, so
    /// a late recorder changes nothing; returns the ids of the attempts
    /// stored. Rows are locked in seq order, so batches never deadlock.
    static func recordSQL(rows: [String]) -> String {
        """
        WITH input (\(recordParameters.map(\.name).joined(separator: ", "))) AS (
            VALUES \(rows.joined(separator: ", "))
        ), old AS (
            SELECT d.seq, d.attempts, d.next_trigger, d.account_id, d.environment, i.*
            FROM deliveries d JOIN input i ON d.id = i.queue_id
            ORDER BY d.seq FOR UPDATE OF d
        ), ended AS (
            UPDATE deliveries d SET status = old.status, attempts = d.attempts + 1, last_status = old.http_status,
                updated_at = old.now, next_attempt_at = old.next_attempt_at, next_trigger = 'retry',
                lease_id = NULL, lease_expires_at = NULL
            FROM old
            WHERE d.seq = old.seq AND d.lease_id = old.lease_id AND d.lease_expires_at > \(PostgresSchema.now)
            RETURNING old.*
        )
        INSERT INTO attempts (
            id, delivery_seq, account_id, environment, attempt_number, trigger_type, outcome, http_status,
            duration_ms, error, request_url, request_method, request_headers, request_body_size,
            response_headers, response_body, created_at, next_retry_at, is_dlq, dlq_at
        )
        SELECT attempt_id, seq, account_id, environment, attempts + 1, next_trigger, outcome, http_status,
               duration_ms, error, request_url, request_method, request_headers, request_body_size,
               response_headers, response_body, now, next_attempt_at, is_dlq, CASE WHEN is_dlq THEN now END
        FROM ended
        RETURNING id
        """
    }

    /// One row of VALUES for ``recordSQL(rows:)`` whose parameters start at `$firstParameter`.
    static func recordRow(firstParameter: Int) -> String {
        "(" + placeholders(recordParameters.map(\.type), from: firstParameter).joined(separator: ", ") + ")"
    }

    /// Appends one attempt's parameters, in ``recordParameters``' order.
    static func appendRecord(
        _ report: AttemptReport,
        queueID: String,
        leaseID: String,
        attemptID: String,
        now: UnixMilliseconds,
        to bindings: inout PostgresBindings
    ) {
        let terminal = report.newStatus != .retrying
        let deadLettered = report.newStatus == .deadLetter || report.newStatus == .rejected
        bindings.append(queueID)
        bindings.append(leaseID)
        bindings.append(report.newStatus.jsonName)
        bindings.append(report.httpStatus)
        bindings.append(now)
        bindings.append(terminal ? nil : report.nextAttemptAt)
        bindings.append(attemptID)
        bindings.append(report.outcome.jsonName)
        bindings.append(report.durationMilliseconds)
        bindings.append(report.error)
        bindings.append(report.requestURL)
        bindings.append(report.requestMethod)
        bindings.append(report.requestHeadersJSON)
        bindings.append(report.requestBodySize)
        bindings.append(report.responseHeadersJSON)
        bindings.append(report.responseBody)
        bindings.append(deadLettered)
    }

    /// One attempt (``appendRecord(_:queueID:leaseID:attemptID:now:to:)``).
    enum RecordAttempt: PreparedSQL {
        static let sql = recordSQL(rows: [recordRow(firstParameter: 1)])
    }

    /// $1 queue id: whether the delivery exists at all.
    enum DeliveryExists: PreparedSQL {
        static let sql = "SELECT 1 FROM deliveries WHERE id = $1::text"
    }
}
