import Logging
import PostgresNIO

/// One step of a component's schema, applied once, in order.
public struct PostgresMigration: Sendable {
    public let version: Int
    public let name: String
    /// Run in one transaction with the record that it was applied.
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies the migrations a database lacks. Several processes may start at
/// once: each takes a session advisory lock first, so one applies them and
/// the others find them applied.
enum PostgresMigrator {
    /// The advisory lock every harepost migration takes (any fixed number;
    /// this one spells "hpmig").
    static let lockKey: Int64 = 0x68_70_6D_69_67

    static func migrate(_ database: PostgresBackend, logger: Logger) async throws {
        let component = database.component
        let migrations = database.migrations.sorted { $0.version < $1.version }
        try await database.client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
            do {
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS harepost_migrations (
                        component TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                        PRIMARY KEY (component, version)
                    )
                    """,
                    logger: logger
                )
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS harepost_probe (
                        component TEXT PRIMARY KEY,
                        written_at TIMESTAMPTZ NOT NULL
                    )
                    """,
                    logger: logger
                )
                var applied = Set<Int>()
                let rows = try await connection.query(
                    "SELECT version FROM harepost_migrations WHERE component = \(component)",
                    logger: logger
                )
                for try await version in rows.decode(Int.self) { applied.insert(version) }
                for migration in migrations where !applied.contains(migration.version) {
                    try await connection.withTransaction(logger: logger) { connection in
                        for statement in migration.statements {
                            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await connection.query(
                            """
                            INSERT INTO harepost_migrations (component, version, name)
                            VALUES (\(component), \(migration.version), \(migration.name))
                            """,
                            logger: logger
                        )
                    }
                    logger.info(
                        "migration applied",
                        metadata: ["component": "\(component)", "migration": "\(migration.version)-\(migration.name)"]
                    )
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
        }
    }
}
