import HarepostPostgres

/// The store's tables in PostgreSQL: the SQLite schema's rules, with the
/// lease holder kept, and no attempt number recorded twice for a delivery.
enum PostgresSchema {
    static let migrations = [
        PostgresMigration(
            version: 1,
            name: "domains-deliveries-attempts",
            statements: [
                """
                CREATE TABLE domains (
                    account_id TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    token TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'verified')),
                    created_at BIGINT NOT NULL,
                    verified_at BIGINT,
                    PRIMARY KEY (account_id, domain)
                )
                """,
                """
                CREATE TABLE destinations (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    name TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (account_id, environment, origin)
                )
                """,
                """
                CREATE TABLE connections (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    destination_id TEXT NOT NULL REFERENCES destinations(id),
                    name TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (account_id, environment, destination_id)
                )
                """,
                """
                CREATE TABLE deliveries (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    account_id TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    target TEXT NOT NULL,
                    method TEXT NOT NULL,
                    headers TEXT NOT NULL,
                    body BYTEA NOT NULL,
                    metadata TEXT,
                    sign BOOLEAN NOT NULL,
                    idempotency_key TEXT,
                    max_attempts BIGINT NOT NULL,
                    backoff TEXT NOT NULL,
                    base_delay_ms BIGINT NOT NULL,
                    max_delay_ms BIGINT NOT NULL,
                    jitter TEXT NOT NULL,
                    timeout_ms BIGINT NOT NULL,
                    respect_retry_after BOOLEAN NOT NULL,
                    connection_id TEXT NOT NULL REFERENCES connections(id),
                    destination_id TEXT NOT NULL REFERENCES destinations(id),
                    status TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    last_status BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    next_attempt_at BIGINT,
                    next_trigger TEXT NOT NULL,
                    lease_id TEXT,
                    lease_expires_at BIGINT,
                    worker_id TEXT,
                    request_id TEXT
                )
                """,
                """
                CREATE UNIQUE INDEX deliveries_by_idempotency_key ON deliveries(account_id, idempotency_key)
                    WHERE idempotency_key IS NOT NULL
                """,
                "CREATE INDEX deliveries_newest ON deliveries(account_id, environment, seq)",
                "CREATE INDEX deliveries_newest_by_status ON deliveries(account_id, environment, status, seq)",
                "CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL",
                """
                CREATE TABLE attempts (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    delivery_seq BIGINT NOT NULL REFERENCES deliveries(seq),
                    account_id TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    attempt_number BIGINT NOT NULL,
                    trigger_type TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    http_status BIGINT,
                    duration_ms BIGINT,
                    error TEXT,
                    request_url TEXT NOT NULL,
                    request_method TEXT NOT NULL,
                    request_headers TEXT,
                    request_body_size BIGINT NOT NULL,
                    response_headers TEXT,
                    response_body TEXT,
                    created_at BIGINT NOT NULL,
                    next_retry_at BIGINT,
                    is_dlq BOOLEAN NOT NULL,
                    dlq_at BIGINT,
                    UNIQUE (delivery_seq, attempt_number)
                )
                """,
                "CREATE INDEX attempts_newest ON attempts(account_id, environment, seq)",
            ]
        ),
        // A claim changes only unindexed columns (the lease, the holder):
        // with room left on each page PostgreSQL updates the row in place
        // (a HOT update) instead of adding an entry to every index; and the
        // queue's churn is vacuumed early, before dead entries pile up in
        // the due index that every claim walks.
        PostgresMigration(
            version: 2,
            name: "deliveries-room-for-in-place-updates",
            statements: [
                """
                ALTER TABLE deliveries SET (
                    fillfactor = 70,
                    autovacuum_vacuum_scale_factor = 0.02,
                    autovacuum_vacuum_cost_delay = 0
                )
                """
            ]
        ),
    ]

    /// The database's clock in Unix milliseconds: leases and due times
    /// across stores on several hosts agree on it.
    static let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
}
