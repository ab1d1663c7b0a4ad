import Foundation
import GRDB
import HarepostProto
import HarepostSQLite

/// The auth component's SQLite database (`<data-dir>/auth.sqlite`).
///
/// WAL mode with `synchronous = FULL`: a write is on disk before its call
/// answers. Every change is one transaction, so a failure leaves nothing
/// half-written. The schema evolves through versioned migrations.
final class SQLiteAuthStorage: Sendable {
    let pool: DatabasePool

    init(path: String) throws {
        pool = try DatabasePool(path: path, configuration: SQLiteDefaults.configuration)
        // Not in `prepareDatabase`: the pool switches its writer to WAL after
        // that runs, and sets `synchronous = NORMAL` while doing so, which
        // does not sync a commit to disk.
        try pool.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-accounts-keys-secrets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE accounts (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        rate_limit_per_minute INTEGER NOT NULL CHECK (rate_limit_per_minute >= 0),
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        account_id TEXT NOT NULL REFERENCES accounts(id),
                        environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
                        hash BLOB NOT NULL UNIQUE,
                        prefix TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        last_used_at INTEGER,
                        revoked_at INTEGER
                    );
                    CREATE INDEX api_keys_by_account ON api_keys(account_id, created_at);
                    CREATE TABLE signing_secrets (
                        account_id TEXT NOT NULL REFERENCES accounts(id),
                        secret TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        valid_until INTEGER
                    );
                    CREATE INDEX signing_secrets_by_account ON signing_secrets(account_id, created_at);
                    """
            )
        }
        migrator.registerMigration("2-storage-probe") { db in
            try SQLiteFailure.createProbeTable(db)
        }
        return migrator
    }

    func probeWrite() async throws {
        try await pool.write { db in
            try SQLiteFailure.probe(db, at: Date().unixMilliseconds)
        }
    }

    func storageFailure(_ error: any Error) -> String? {
        SQLiteFailure.storageReason(error)
    }
}
