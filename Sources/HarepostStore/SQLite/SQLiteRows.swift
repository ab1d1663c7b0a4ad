import Foundation
import GRDB

/// How store rows are read: named column lists, decoded by position from a
/// cursor.
///
/// Decoding by column name copies each row and compares names
/// case-insensitively (`String.lowercased` was 7% of the store's CPU under the
/// lookup load, docs/benchmarks.md). Each SELECT here names its columns, and the
/// decoder next to the list reads them in that order straight from the
/// statement.
enum SQLiteRows {
    /// The columns `delivery(_:)` reads, in its order.
    static let deliveryColumns = """
        seq, id, account_id, environment, target, method, headers, body, sign, idempotency_key,
        max_attempts, backoff, base_delay_ms, max_delay_ms, jitter, timeout_ms, respect_retry_after,
        status, attempts, last_status, created_at, updated_at, next_trigger, request_id
        """
    static func delivery(_ columns: inout Columns) throws -> DeliveryRecord {
        try DeliveryRecord(
            seq: columns.next(),
            queueID: columns.next(),
            tenant: Tenant(accountID: columns.next(), environment: columns.next()),
            target: columns.next(),
            method: columns.next(),
            headersJSON: columns.next(),
            body: columns.nextBytes(),
            sign: columns.next(),
            idempotencyKey: columns.nextOrNil(),
            policy: DeliveryPolicy(
                maxAttempts: columns.next(),
                backoff: columns.next(),
                baseDelayMilliseconds: columns.next(),
                maxDelayMilliseconds: columns.next(),
                jitter: columns.next(),
                timeoutMilliseconds: columns.next(),
                respectRetryAfter: columns.next()
            ),
            status: columns.next(),
            attempts: columns.next(),
            lastStatus: columns.nextOrNil(),
            createdAt: columns.next(),
            updatedAt: columns.next(),
            nextTrigger: columns.next(),
            requestID: columns.nextOrNil()
        )
    }

    static func delivery(_ row: Row) throws -> DeliveryRecord {
        var columns = Columns(row)
        return try delivery(&columns)
    }

    /// An attempt joined with its delivery, connection and destination; the
    /// columns `attempt(_:)` reads, in its order.
    static let attemptSelect = """
        SELECT a.id, d.id, a.account_id, a.environment, d.connection_id, d.destination_id, c.name, t.name,
               a.attempt_number, a.trigger_type, a.outcome, a.http_status, a.duration_ms, a.error,
               a.request_url, a.request_method, a.request_headers, a.request_body_size,
               a.response_headers, a.response_body, a.created_at, a.next_retry_at, a.is_dlq, a.dlq_at
        FROM attempts a
        JOIN deliveries d ON d.seq = a.delivery_seq
        JOIN connections c ON c.id = d.connection_id
        JOIN destinations t ON t.id = d.destination_id
        """

    static func attempt(_ row: Row) -> AttemptRecord {
        var columns = Columns(row)
        return AttemptRecord(
            id: columns.next(),
            queueID: columns.next(),
            tenant: Tenant(accountID: columns.next(), environment: columns.next()),
            connectionID: columns.next(),
            destinationID: columns.next(),
            connectionName: columns.next(),
            destinationName: columns.next(),
            attemptNumber: columns.next(),
            triggerType: columns.next(),
            outcome: columns.next(),
            httpStatus: columns.nextOrNil(),
            durationMilliseconds: columns.nextOrNil(),
            error: columns.nextOrNil(),
            requestURL: columns.next(),
            requestMethod: columns.next(),
            requestHeadersJSON: columns.nextOrNil(),
            requestBodySize: columns.next(),
            responseHeadersJSON: columns.nextOrNil(),
            responseBody: columns.nextOrNil(),
            createdAt: columns.next(),
            nextRetryAt: columns.nextOrNil(),
            isDLQ: columns.next(),
            dlqAt: columns.nextOrNil()
        )
    }

    /// Every row of `statement`, decoded as it is stepped (no row copies).
    static func all<T>(
        _ statement: Statement,
        arguments: StatementArguments,
        _ decode: (Row) throws -> T
    ) throws -> [T] {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var records: [T] = []
        while let row = try cursor.next() { records.append(try decode(row)) }
        return records
    }

    /// The first row of `statement`, decoded, or nil.
    static func first<T>(
        _ statement: Statement,
        arguments: StatementArguments,
        _ decode: (Row) throws -> T
    ) throws -> T? {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        guard let row = try cursor.next() else { return nil }
        return try decode(row)
    }

    /// A row's columns read left to right by position.
    struct Columns {
        let row: Row
        private(set) var index = 0

        init(_ row: Row) { self.row = row }

        mutating func next<Value: DatabaseValueConvertible & StatementColumnConvertible>() -> Value {
            defer { index += 1 }
            return row[index]
        }

        mutating func nextOrNil<Value: DatabaseValueConvertible & StatementColumnConvertible>() -> Value? {
            defer { index += 1 }
            return row[index]
        }

        mutating func nextBytes() throws -> [UInt8] {
            defer { index += 1 }
            return try row.withUnsafeData(atIndex: index) { data in data.map { [UInt8]($0) } ?? [] }
        }
    }
}
