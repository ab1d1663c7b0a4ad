import Foundation
import GRDB
import HarepostProto

extension SQLiteEngine {
    /// SQLite's result codes for a disk that refuses writes; a constraint or
    /// a bad statement is about one request, not the storage.
    func storageFailure(_ error: any Error) -> String? {
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

    func probeWrite() async throws {
        try await commits.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO storage_probe (id, at) VALUES (1, ?)",
                arguments: [Date().unixMilliseconds]
            )
        }
    }
}
