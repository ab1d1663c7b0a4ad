public import GRDB

/// What a SQLite error says about the storage under it, for the services
/// that keep their data in SQLite (auth and store).
public enum SQLiteFailure {
    /// Why storage cannot work right now, when `error` is SQLite saying the
    /// disk refuses it (full, failing, unopenable, read-only, out of
    /// memory); nil for an error about one statement or request (a
    /// constraint, a bad argument), or one that is not SQLite's.
    public static func storageReason(_ error: any Error) -> String? {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_FULL: return "the disk is full"
        case .SQLITE_IOERR: return "the disk failed a read or write (\(error.extendedResultCode))"
        case .SQLITE_CANTOPEN: return "the database file cannot be opened"
        case .SQLITE_READONLY: return "the database file is read-only"
        case .SQLITE_NOMEM: return "SQLite is out of memory"
        default: return nil
        }
    }

    /// Creates the one-row table ``probe(_:at:)`` rewrites (in a migration).
    public static func createProbeTable(_ db: Database) throws {
        try db.execute(sql: "CREATE TABLE storage_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)")
    }

    /// One durable one-row write: whether the disk takes writes again.
    public static func probe(_ db: Database, at time: Int64) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO storage_probe (id, at) VALUES (1, ?)", arguments: [time])
    }
}

/// How harepost opens its SQLite files.
public enum SQLiteDefaults {
    /// A lock held by another connection is waited for (up to 5 s) instead of
    /// failing at once: a process restarted on the same file can start while
    /// the previous one still checkpoints the WAL on close.
    public static var configuration: Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return configuration
    }
}
