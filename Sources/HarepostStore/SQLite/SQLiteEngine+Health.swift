import Foundation
import GRDB
import HarepostProto
import HarepostSQLite

extension SQLiteEngine {
    func storageFailure(_ error: any Error) -> String? {
        SQLiteFailure.storageReason(error)
    }

    func probeWrite() async throws {
        try await commits.write { db in
            try SQLiteFailure.probe(db, at: Date().unixMilliseconds)
        }
    }
}

extension SQLiteEngine {
    /// One store owns the file: its own sends wake its long polls.
    var maximumNap: Duration? { nil }
}
