import Foundation
import Logging
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

    /// The columns of ``InsertDelivery``, in the order of its parameters.
    static let insertedColumns = """
        id, account_id, environment, target, method, headers, body, metadata, sign, idempotency_key,
        max_attempts, backoff, base_delay_ms, max_delay_ms, jitter, timeout_ms, respect_retry_after,
        created_at, updated_at, next_attempt_at, request_id, connection_id, destination_id
        """

    /// A new delivery, or nothing when its idempotency key is taken; returns its seq.
    enum InsertDelivery: PreparedSQL {
        static let sql = """
            INSERT INTO deliveries (\(insertedColumns), status, next_trigger)
            VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bytea, $8::text, $9::boolean,
                    $10::text, $11::bigint, $12::text, $13::bigint, $14::bigint, $15::text, $16::bigint,
                    $17::boolean, $18::bigint, $18::bigint, $18::bigint, $19::text, $20::text, $21::text,
                    'queued', 'initial')
            ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING seq
            """
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

    /// Ends the lease $2 on delivery $1 and stores its attempt, in one
    /// statement: the lease is checked in the UPDATE, against the database's
    /// clock, so a late recorder changes nothing (no row comes back).
    /// $3 status, $4 HTTP status, $5 now, $6 next attempt at, $7 attempt id,
    /// $8 outcome, $9 duration, $10 error, $11 URL, $12 method, $13 request
    /// headers, $14 body size, $15 response headers, $16 response body,
    /// $17 dead-lettered.
    enum RecordAttempt: PreparedSQL {
        static let sql = """
            WITH old AS (
                SELECT seq, attempts, next_trigger, account_id, environment FROM deliveries
                WHERE id = $1::text FOR UPDATE
            ), ended AS (
                UPDATE deliveries d SET status = $3::text, attempts = d.attempts + 1, last_status = $4::bigint,
                    updated_at = $5::bigint, next_attempt_at = $6::bigint, next_trigger = 'retry',
                    lease_id = NULL, lease_expires_at = NULL
                FROM old
                WHERE d.seq = old.seq AND d.lease_id = $2::text AND d.lease_expires_at > \(PostgresSchema.now)
                RETURNING old.seq, old.attempts, old.next_trigger, old.account_id, old.environment
            )
            INSERT INTO attempts (
                id, delivery_seq, account_id, environment, attempt_number, trigger_type, outcome, http_status,
                duration_ms, error, request_url, request_method, request_headers, request_body_size,
                response_headers, response_body, created_at, next_retry_at, is_dlq, dlq_at
            )
            SELECT $7::text, seq, account_id, environment, attempts + 1, next_trigger, $8::text, $4::bigint,
                   $9::bigint, $10::text, $11::text, $12::text, $13::text, $14::bigint, $15::text, $16::text,
                   $5::bigint, $6::bigint, $17::boolean, CASE WHEN $17::boolean THEN $5::bigint END
            FROM ended
            RETURNING attempt_number
            """
    }

    /// $1 queue id: whether the delivery exists at all.
    enum DeliveryExists: PreparedSQL {
        static let sql = "SELECT 1 FROM deliveries WHERE id = $1::text"
    }
}
