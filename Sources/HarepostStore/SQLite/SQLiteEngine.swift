import CSQLiteConfig
import Foundation
import GRDB
import HarepostContracts
import HarepostSQLite

/// The embedded storage engine: one SQLite file (`<data-dir>/store.sqlite`) in
/// WAL mode with `synchronous = FULL`, writes grouped into shared commits.
final class SQLiteEngine: ImmediatePointReads {
    let pool: DatabasePool
    let commits: GroupCommit
    let pointReaders: PointReaders
    /// The destination and connection ids of the targets sent to, by tenant
    /// and origin (``insert(_:)``).
    let links = DestinationLinks()

    /// Whether SQLite's memory statistics are off in this process, decided
    /// once, before the first connection opens: with them on, every SQLite
    /// allocation takes one process-wide mutex, which the event loops'
    /// readers contend for. In the store process the
    /// engine opens the first connection, so this holds there.
    static let memoryStatisticsDisabled = hp_sqlite_disable_memory_statistics()

    init(path: String) throws {
        _ = Self.memoryStatisticsDisabled
        pool = try DatabasePool(path: path, configuration: SQLiteDefaults.configuration)
        // Not in `prepareDatabase`: the pool switches its writer to WAL after
        // that runs, and sets `synchronous = NORMAL` while doing so, which
        // does not sync a commit to disk.
        try pool.barrierWriteWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
        commits = GroupCommit(pool: pool)
        let counter = CommitCounter()
        pool.add(transactionObserver: counter, extent: .databaseLifetime)
        pointReaders = PointReaders(path: path, commits: counter)
    }

    /// Runs a read that touches O(1) index entries (a delivery by id, one
    /// keyset page) on the calling thread. Such a read takes microseconds, and
    /// GRDB's async read hops to a reader queue and back, which costs several
    /// times the read. Reads that
    /// may scan (counts, offsets) keep the async `pool.read`. On an event loop
    /// the read uses that loop's own connection (``PointReaders``).
    ///
    /// The read runs in a deferred transaction, so its statements see one
    /// snapshot, as `pool.read` gives; on an event loop that transaction is
    /// shared with the loop turn's other point reads while no write commits
    /// (``PointReaders``). The BEGIN and COMMIT are prepared once per
    /// connection instead of compiled on every read.
    func pointRead<T>(_ body: (Database) throws -> T) throws -> T {
        if let result = try pointReaders.read(body) { return result }
        return try pool.unsafeRead { db in try Self.inReadTransaction(db, body) }
    }

    private static func inReadTransaction<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        try db.cachedStatement(sql: "BEGIN DEFERRED TRANSACTION").execute()
        do {
            let result = try body(db)
            try db.cachedStatement(sql: "COMMIT").execute()
            return result
        } catch {
            if !db.isInsideTransaction { throw error }
            try? db.cachedStatement(sql: "ROLLBACK").execute()
            throw error
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-domains-deliveries-attempts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE domains (
                        account_id TEXT NOT NULL,
                        domain TEXT NOT NULL,
                        token TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('pending', 'verified')),
                        created_at INTEGER NOT NULL,
                        verified_at INTEGER,
                        PRIMARY KEY (account_id, domain)
                    );
                    CREATE TABLE destinations (
                        id TEXT PRIMARY KEY NOT NULL,
                        account_id TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        name TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (account_id, environment, origin)
                    );
                    CREATE TABLE connections (
                        id TEXT PRIMARY KEY NOT NULL,
                        account_id TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        destination_id TEXT NOT NULL REFERENCES destinations(id),
                        name TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (account_id, environment, destination_id)
                    );
                    CREATE TABLE deliveries (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        account_id TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        target TEXT NOT NULL,
                        method TEXT NOT NULL,
                        headers TEXT NOT NULL,
                        body BLOB NOT NULL,
                        metadata TEXT,
                        sign INTEGER NOT NULL,
                        idempotency_key TEXT,
                        max_attempts INTEGER NOT NULL,
                        backoff TEXT NOT NULL,
                        base_delay_ms INTEGER NOT NULL,
                        max_delay_ms INTEGER NOT NULL,
                        jitter TEXT NOT NULL,
                        timeout_ms INTEGER NOT NULL,
                        respect_retry_after INTEGER NOT NULL,
                        connection_id TEXT NOT NULL REFERENCES connections(id),
                        destination_id TEXT NOT NULL REFERENCES destinations(id),
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_status INTEGER,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        next_attempt_at INTEGER,
                        next_trigger TEXT NOT NULL,
                        lease_id TEXT,
                        lease_expires_at INTEGER
                    );
                    CREATE UNIQUE INDEX deliveries_by_idempotency_key ON deliveries(account_id, idempotency_key)
                        WHERE idempotency_key IS NOT NULL;
                    CREATE INDEX deliveries_newest ON deliveries(account_id, environment, seq);
                    CREATE INDEX deliveries_newest_by_status ON deliveries(account_id, environment, status, seq);
                    CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
                    CREATE TABLE attempts (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        delivery_seq INTEGER NOT NULL REFERENCES deliveries(seq),
                        account_id TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        attempt_number INTEGER NOT NULL,
                        trigger_type TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        http_status INTEGER,
                        duration_ms INTEGER,
                        error TEXT,
                        request_url TEXT NOT NULL,
                        request_method TEXT NOT NULL,
                        request_headers TEXT,
                        request_body_size INTEGER NOT NULL,
                        response_headers TEXT,
                        response_body TEXT,
                        created_at INTEGER NOT NULL,
                        next_retry_at INTEGER,
                        is_dlq INTEGER NOT NULL,
                        dlq_at INTEGER
                    );
                    CREATE INDEX attempts_by_delivery ON attempts(delivery_seq, attempt_number);
                    CREATE INDEX attempts_newest ON attempts(account_id, environment, seq);
                    """
            )
        }
        migrator.registerMigration("2-delivery-request-id") { db in
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN request_id TEXT")
        }
        migrator.registerMigration("3-storage-probe") { db in
            try SQLiteFailure.createProbeTable(db)
        }
        return migrator
    }
}
