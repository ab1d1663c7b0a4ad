import Foundation
public import GRDB
import Logging
import PostgresNIO

/// Copies a component's SQLite tables into the same tables in PostgreSQL,
/// for a deployment that moves from one host to several. Columns are matched
/// by name and converted by the PostgreSQL column's type; identity columns
/// keep their values (so keyset cursors and references stay valid) and their
/// sequences continue after the largest copied value.
public enum SQLiteToPostgres {
    public struct TableCount: Sendable, Equatable, CustomStringConvertible {
        public let table: String
        public let rows: Int64
        public var description: String { "\(table): \(rows)" }
    }

    /// What a component's copy moved and checked.
    public struct CopyReport: Sendable {
        public let counts: [TableCount]
        /// Records (deliveries, accounts) looked up through both engines and found equal.
        public let lookupsCompared: Int

        public init(counts: [TableCount], lookupsCompared: Int) {
            self.counts = counts
            self.lookupsCompared = lookupsCompared
        }
    }

    /// Why a copy cannot start or did not come out equal.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Copies `tables` (parents before children) from `source` (a snapshot,
    /// so every table is read as of one moment) into `database` in one
    /// transaction: all rows or none, then checks that each table holds as
    /// many rows on both sides. Refuses a target whose tables hold rows.
    public static func copy(
        tables: [String],
        from source: any DatabaseReader,
        to database: PostgresBackend
    ) async throws -> [TableCount] {
        let logger = database.logger
        let counts = try await database.withTransaction { connection in
            var counts: [TableCount] = []
            for table in tables {
                let copied = try await copy(table, from: source, connection, logger)
                counts.append(TableCount(table: table, rows: copied))
                logger.info("table copied", metadata: ["table": "\(table)", "rows": "\(copied)"])
            }
            return counts
        }
        try await verifyCounts(counts, source: source, database: database)
        return counts
    }

    /// The rows of each table on both sides; throws when any differ.
    private static func verifyCounts(
        _ copied: [TableCount],
        source: any DatabaseReader,
        database: PostgresBackend
    ) async throws {
        let logger = database.logger
        for count in copied {
            let table = count.table
            let inSQLite = try await source.read { db in
                try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table.quotedDatabaseIdentifier)") ?? 0
            }
            let inPostgres = try await database.withConnection { connection in
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(quoted(table))"),
                    logger: logger
                ).collect().first?.decode(Int64.self) ?? -1
            }
            guard inSQLite == inPostgres, inSQLite == count.rows else {
                throw Refusal(
                    "\(table): \(inSQLite) rows in SQLite, \(inPostgres) in PostgreSQL, \(count.rows) copied"
                )
            }
        }
    }

    private struct Column {
        let name: String
        let type: String
        let isIdentity: Bool
    }

    private static func copy(
        _ table: String,
        from source: any DatabaseReader,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> Int64 {
        var target: [Column] = []
        for try await (name, type, identity) in try await connection.query(
            """
            SELECT column_name::text, data_type::text, is_identity::text FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = \(table) ORDER BY ordinal_position
            """,
            logger: logger
        ).decode((String, String, String).self) {
            target.append(Column(name: name, type: type, isIdentity: identity == "YES"))
        }
        guard !target.isEmpty else { throw Refusal("PostgreSQL has no table \(table): were the migrations applied?") }
        let occupied = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT EXISTS (SELECT 1 FROM \(quoted(table)))"),
            logger: logger
        ).collect().first?.decode(Bool.self)
        if occupied == true {
            throw Refusal("PostgreSQL's \(table) already holds rows: copy into an empty database")
        }
        let sourceColumns = try await source.read { db in try db.columns(in: table).map(\.name) }
        guard !sourceColumns.isEmpty else { throw Refusal("SQLite has no table \(table)") }
        for name in sourceColumns where !target.contains(where: { $0.name == name }) {
            throw Refusal("\(table).\(name) has no column in PostgreSQL; nothing was copied")
        }
        let columns = target.filter { sourceColumns.contains($0.name) }
        let list = columns.map { quoted($0.name) }.joined(separator: ", ")
        let overriding = columns.contains { $0.isIdentity } ? " OVERRIDING SYSTEM VALUE" : ""
        // A statement carries at most 65,535 parameters.
        let batch = max(1, min(1000, 60_000 / columns.count))

        var copied: Int64 = 0
        var after: Int64 = .min
        while true {
            let rows = try await source.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT rowid AS harepost_rowid, \(list) FROM \(table.quotedDatabaseIdentifier)
                        WHERE rowid > ? ORDER BY rowid LIMIT \(batch)
                        """,
                    arguments: [after]
                )
            }
            guard let last = rows.last else { break }
            after = last["harepost_rowid"]
            var bindings = PostgresBindings(capacity: rows.count * columns.count)
            var values: [String] = []
            for row in rows {
                var placeholders: [String] = []
                for (index, column) in columns.enumerated() {
                    try bind(row[index + 1] as DatabaseValue, as: column, in: table, to: &bindings)
                    placeholders.append("$\(bindings.count)")
                }
                values.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "INSERT INTO \(quoted(table)) (\(list))\(overriding) VALUES "
                        + values.joined(separator: ", "),
                    binds: bindings
                ),
                logger: logger
            )
            copied += Int64(rows.count)
        }
        for column in columns where column.isIdentity {
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT setval(pg_get_serial_sequence('\(table)', '\(column.name)'),
                                      (SELECT coalesce(max(\(quoted(column.name))), 0) + 1 FROM \(quoted(table))), false)
                        """
                ),
                logger: logger
            )
        }
        return copied
    }

    /// Binds one SQLite value as the PostgreSQL column's type.
    private static func bind(
        _ value: DatabaseValue,
        as column: Column,
        in table: String,
        to bindings: inout PostgresBindings
    ) throws {
        let mismatch = Refusal("\(table).\(column.name): \(value) cannot be stored as \(column.type)")
        switch (value.storage, column.type) {
        case (.null, _):
            bindings.appendNull()
        case (.int64(let number), "bigint"), (.int64(let number), "integer"), (.int64(let number), "smallint"):
            bindings.append(number)
        case (.int64(let number), "boolean"):
            bindings.append(number != 0)
        case (.string(let text), "text"):
            bindings.append(text)
        case (.blob(let data), "bytea"):
            bindings.append(ByteBuffer(bytes: data))
        case (.string(let text), "bytea"):
            bindings.append(ByteBuffer(string: text))
        case (.blob(let data), "text"):
            guard let text = String(validating: data, as: UTF8.self) else { throw mismatch }
            bindings.append(text)
        default:
            throw mismatch
        }
    }

    private static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
