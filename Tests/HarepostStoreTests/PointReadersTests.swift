import Foundation
import GRDB
import HarepostContracts
import HarepostTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import HarepostStore

/// Point reads on an event loop share one read transaction per loop turn
/// (PointReaders); a commit of the store's writer ends the shared snapshot.
@Suite("Point reads")
struct PointReadersTests {
    static let tenant = Tenant(accountID: "acct_pr", environment: .live)

    /// Read-your-writes: a write the writer committed after the turn's
    /// snapshot was opened is seen by the next read of the same turn.
    @Test func aCommitDuringATurnIsSeenByTheTurnsNextRead() async throws {
        try await withTemporaryDirectory("hp-pr") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let queueID = try await engine.insert(.sample(Self.tenant)).record.queueID
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let (before, missing, after) = try await loop.submit {
                let before = try engine.delivery(queueID, tenant: Self.tenant).0.status
                // A read that fails keeps the turn's transaction usable.
                let missing = (try? engine.delivery("hr_missing", tenant: Self.tenant)) == nil
                try engine.pool.write { db in
                    try db.execute(
                        sql: "UPDATE deliveries SET status = 'delivered' WHERE id = ?",
                        arguments: [queueID]
                    )
                }
                let after = try engine.delivery(queueID, tenant: Self.tenant).0.status
                return (before, missing, after)
            }.get()
            #expect(before == .queued)
            #expect(missing)
            #expect(after == .delivered)
        }
    }

    /// Without a commit of the store's writer in between, the reads of one
    /// turn see one snapshot (a write through another connection, which the
    /// store never makes, shows it); the next turn reads afresh.
    @Test func readsOfOneTurnShareASnapshotThatEndsWithTheTurn() async throws {
        try await withTemporaryDirectory("hp-pr") { directory in
            let path = "\(directory)/store.sqlite"
            let engine = try SQLiteEngine(path: path)
            let queueID = try await engine.insert(.sample(Self.tenant)).record.queueID
            let outsider = try DatabaseQueue(path: path)
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let (first, second) = try await loop.submit {
                let first = try engine.delivery(queueID, tenant: Self.tenant).0.status
                try outsider.write { db in
                    try db.execute(
                        sql: "UPDATE deliveries SET status = 'delivered' WHERE id = ?",
                        arguments: [queueID]
                    )
                }
                let second = try engine.delivery(queueID, tenant: Self.tenant).0.status
                return (first, second)
            }.get()
            #expect(first == .queued)
            #expect(second == .queued)
            let nextTurn = try await loop.submit { try engine.delivery(queueID, tenant: Self.tenant).0.status }.get()
            #expect(nextTurn == .delivered)
        }
    }
}

@Suite("SQLite settings")
struct SQLiteSettingsTests {
    /// A send is answered once its commit is on disk: the writer syncs the
    /// WAL at every commit (`synchronous = FULL`, 2). GRDB's pool sets
    /// NORMAL (1) on its writer when it opens, which syncs only at
    /// checkpoints.
    @Test func theWriterSyncsEveryCommit() async throws {
        try await withTemporaryDirectory("hp-sync") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let level = try await engine.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(level == 2)
        }
    }

    /// In a fresh process, as in the store's, the engine turns SQLite's
    /// memory statistics (a process-wide mutex per allocation) off before
    /// any connection opens.
    @Test func aFreshProcessRunsSQLiteWithoutMemoryStatistics() async {
        await #expect(processExitsWith: .success) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hp-memstat-\(getpid())")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            guard (try? SQLiteEngine(path: directory.appendingPathComponent("store.sqlite").path)) != nil,
                SQLiteEngine.memoryStatisticsDisabled
            else { exit(1) }
        }
    }
}
