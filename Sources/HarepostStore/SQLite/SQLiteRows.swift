import Foundation
import GRDB

/// How store rows are read: named column lists, decoded by position straight
/// from the stepped statement.
///
/// Decoding by column name copies each row and compares names
/// case-insensitively, and even a positional GRDB `Row` builds a column-name
/// index per query: both cost more than the read. Each SELECT here names its columns,
/// starting with an INTEGER row key (``StoreColumns``), and the decoders here
/// read them in that order from the statement's current row.
enum SQLiteRows {
    /// Reads a row of ``StoreColumns/delivery``.
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

    /// Reads a row of ``StoreColumns/attemptSelect``.
    static func attempt(_ columns: inout Columns) throws -> AttemptRecord {
        _ = try columns.next() as Int64  // a.seq
        return try AttemptRecord(
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
        _ decode: (inout Columns) throws -> T
    ) throws -> [T] {
        // The cursor steps the statement (and reads the INTEGER row key);
        // `decode` reads the row it stands on.
        let cursor = try Int64.fetchCursor(statement, arguments: arguments)
        var records: [T] = []
        while try cursor.next() != nil {
            var columns = Columns(statement.sqliteStatement)
            records.append(try decode(&columns))
        }
        return records
    }

    /// The first row of `statement`, decoded, or nil.
    static func first<T>(
        _ statement: Statement,
        arguments: StatementArguments,
        _ decode: (inout Columns) throws -> T
    ) throws -> T? {
        let cursor = try Int64.fetchCursor(statement, arguments: arguments)
        guard try cursor.next() != nil else { return nil }
        var columns = Columns(statement.sqliteStatement)
        return try decode(&columns)
    }

    /// The current row of a stepped statement, read left to right by position.
    /// Only valid until the statement steps again.
    struct Columns {
        let statement: SQLiteStatement
        private(set) var index: CInt = 0

        init(_ statement: SQLiteStatement) { self.statement = statement }

        struct UnexpectedValue: Error, CustomStringConvertible {
            let column: CInt
            let type: Any.Type
            var description: String { "column \(column) does not hold a \(type)" }
        }

        /// A NOT NULL column.
        mutating func next<Value: StatementColumnConvertible>() throws -> Value {
            defer { index += 1 }
            guard let value = Value.fromStatement(statement, atUncheckedIndex: index) else {
                throw UnexpectedValue(column: index, type: Value.self)
            }
            return value
        }

        mutating func nextOrNil<Value: DatabaseValueConvertible>() throws -> Value? {
            defer { index += 1 }
            let value = DatabaseValue(sqliteStatement: statement, index: index)
            if value.isNull { return nil }
            guard let converted = Value.fromDatabaseValue(value) else {
                throw UnexpectedValue(column: index, type: Value.self)
            }
            return converted
        }

        mutating func nextBytes() -> [UInt8] {
            defer { index += 1 }
            return [UInt8](Data(sqliteStatement: statement, index: index))
        }
    }
}
