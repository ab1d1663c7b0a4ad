import HarepostContracts
import HarepostProto
import NIOCore
import PostgresNIO

/// Store rows read from PostgreSQL by position, in the column orders of
/// ``PostgresSchema``.
enum PostgresRows {
    struct Columns {
        let row: PostgresRandomAccessRow
        private(set) var index = 0

        init(_ row: PostgresRow) { self.row = PostgresRandomAccessRow(row) }

        struct UnknownValue: Error, CustomStringConvertible {
            let column: Int
            let text: String
            var description: String { "column \(column) holds \"\(text)\", which this build does not know" }
        }

        mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
            defer { index += 1 }
            return try row[index].decode(T.self)
        }

        mutating func nextEnum<E: ProtoEnumContract>(_ type: E.Type = E.self) throws -> E {
            let text = try next(String.self)
            guard let value = E(jsonName: text) else { throw UnknownValue(column: index - 1, text: text) }
            return value
        }

        mutating func nextBytes() throws -> [UInt8] {
            var buffer = try next(ByteBuffer.self)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        }
    }

    static func delivery(_ columns: inout Columns) throws -> DeliveryRecord {
        try DeliveryRecord(
            seq: columns.next(),
            queueID: columns.next(),
            tenant: Tenant(accountID: columns.next(), environment: columns.nextEnum()),
            target: columns.next(),
            method: columns.next(),
            headersJSON: columns.next(),
            body: columns.nextBytes(),
            sign: columns.next(),
            idempotencyKey: columns.next(),
            policy: DeliveryPolicy(
                maxAttempts: columns.next(),
                backoff: columns.nextEnum(),
                baseDelayMilliseconds: columns.next(),
                maxDelayMilliseconds: columns.next(),
                jitter: columns.nextEnum(),
                timeoutMilliseconds: columns.next(),
                respectRetryAfter: columns.next()
            ),
            status: columns.nextEnum(),
            attempts: columns.next(),
            lastStatus: columns.next(),
            createdAt: columns.next(),
            updatedAt: columns.next(),
            nextTrigger: columns.nextEnum(),
            requestID: columns.next()
        )
    }

    static func attempt(_ columns: inout Columns) throws -> AttemptRecord {
        _ = try columns.next(Int64.self)  // a.seq
        return try AttemptRecord(
            id: columns.next(),
            queueID: columns.next(),
            tenant: Tenant(accountID: columns.next(), environment: columns.nextEnum()),
            connectionID: columns.next(),
            destinationID: columns.next(),
            connectionName: columns.next(),
            destinationName: columns.next(),
            attemptNumber: columns.next(),
            triggerType: columns.nextEnum(),
            outcome: columns.nextEnum(),
            httpStatus: columns.next(),
            durationMilliseconds: columns.next(),
            error: columns.next(),
            requestURL: columns.next(),
            requestMethod: columns.next(),
            requestHeadersJSON: columns.next(),
            requestBodySize: columns.next(),
            responseHeadersJSON: columns.next(),
            responseBody: columns.next(),
            createdAt: columns.next(),
            nextRetryAt: columns.next(),
            isDLQ: columns.next(),
            dlqAt: columns.next()
        )
    }

    static func domain(_ columns: inout Columns) throws -> DomainRecord {
        try DomainRecord(
            domain: columns.next(),
            token: columns.next(),
            status: columns.nextEnum(),
            createdAt: columns.next(),
            verifiedAt: columns.next()
        )
    }

    /// Every row of `rows`, decoded.
    static func all<T>(_ rows: [PostgresRow], _ decode: (inout Columns) throws -> T) throws -> [T] {
        try rows.map { row in
            var columns = Columns(row)
            return try decode(&columns)
        }
    }

    /// Every row of `rows`, decoded.
    static func all<T>(_ rows: PostgresRowSequence, _ decode: (inout Columns) throws -> T) async throws -> [T] {
        var records: [T] = []
        for try await row in rows {
            var columns = Columns(row)
            records.append(try decode(&columns))
        }
        return records
    }
}
