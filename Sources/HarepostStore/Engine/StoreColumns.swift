/// The columns every engine selects for a delivery and an attempt, in the
/// order their row decoders read them (`SQLiteRows`, `PostgresRows`).
enum StoreColumns {
    /// A delivery's columns.
    static let delivery = """
        seq, id, account_id, environment, target, method, headers, body, sign, idempotency_key,
        max_attempts, backoff, base_delay_ms, max_delay_ms, jitter, timeout_ms, respect_retry_after,
        status, attempts, last_status, created_at, updated_at, next_trigger, request_id
        """

    /// An attempt joined with its delivery, connection and destination (the
    /// first column, `a.seq`, is the row key a cursor steps on).
    static let attemptSelect = """
        SELECT a.seq, a.id, d.id, a.account_id, a.environment, d.connection_id, d.destination_id, c.name, t.name,
               a.attempt_number, a.trigger_type, a.outcome, a.http_status, a.duration_ms, a.error,
               a.request_url, a.request_method, a.request_headers, a.request_body_size,
               a.response_headers, a.response_body, a.created_at, a.next_retry_at, a.is_dlq, a.dlq_at
        FROM attempts a
        JOIN deliveries d ON d.seq = a.delivery_seq
        JOIN connections c ON c.id = d.connection_id
        JOIN destinations t ON t.id = d.destination_id
        """
}
