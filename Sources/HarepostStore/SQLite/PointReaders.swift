import GRDB
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// Read-only connections for point reads, one per event loop that asks, and
/// read transactions shared by the reads of one event-loop turn.
///
/// Point reads run on the RPC connection's event loop (the store's immediate
/// handlers). Each loop gets a connection of its own, used only from that
/// loop's thread: a read then takes no checkout from GRDB's reader pool and
/// skips the `PRAGMA schema_version` check the pool runs before every read
/// (together a sixth of a lookup's work in the store). Skipping
/// the check is safe because the store's schema only changes in the
/// migrations that run before it serves.
///
/// Under load one turn of a loop answers a dozen reads or more. The first
/// opens a read transaction, the reads after it use the same snapshot, and
/// the transaction ends when the turn does, instead of a BEGIN, a COMMIT and
/// two WAL lock system calls per read. A snapshot is reused only while no
/// write has committed since it was opened (``CommitCounter``, told by the
/// writer connection after every commit, before the writer's caller can
/// answer): any write a client has seen acknowledged is in the snapshot its
/// next read uses, as with a transaction per read.
final class PointReaders: Sendable {
    private let path: String
    private let commits: CommitCounter
    private let readers = NIOLockedValueBox<[ObjectIdentifier: Reader]>([:])

    init(path: String, commits: CommitCounter) {
        self.path = path
        self.commits = commits
    }

    /// Runs `body` in a read transaction on the calling event loop's
    /// connection (opened on first use); nil when the caller is not on an
    /// event loop.
    func read<T>(_ body: (Database) throws -> T) throws -> T? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        let key = ObjectIdentifier(loop)
        let reader: Reader
        if let existing = readers.withLockedValue({ $0[key] }) {
            reader = existing
        } else {
            var configuration = Configuration()
            configuration.readonly = true
            // The turn's transaction outlives each database access.
            configuration.allowsUnsafeTransactions = true
            reader = Reader(connection: try DatabaseQueue(path: path, configuration: configuration), loop: loop)
            readers.withLockedValue { $0[key] = reader }
        }
        return try reader.read(commits: commits, body)
    }

    /// One loop's connection and the snapshot it has open. Used only on that
    /// loop's thread.
    private final class Reader: @unchecked Sendable {
        let connection: DatabaseQueue
        let loop: any EventLoop
        /// The commit count read just before the open transaction began, or
        /// nil when none is open.
        var snapshotCommits: UInt64?

        init(connection: DatabaseQueue, loop: any EventLoop) {
            self.connection = connection
            self.loop = loop
        }

        func read<T>(commits: CommitCounter, _ body: (Database) throws -> T) throws -> T {
            loop.preconditionInEventLoop()
            return try connection.inDatabase { db in
                if let opened = snapshotCommits, opened != commits.count || !db.isInsideTransaction {
                    try end(db)
                }
                if snapshotCommits == nil {
                    // Read before BEGIN: a deferred transaction takes its
                    // snapshot at its first read, so the snapshot holds at
                    // least the commits counted so far.
                    let count = commits.count
                    try db.cachedStatement(sql: "BEGIN DEFERRED TRANSACTION").execute()
                    snapshotCommits = count
                    loop.execute { self.endTurn() }
                }
                do {
                    return try body(db)
                } catch {
                    // A failed read may have ended the transaction (SQLite
                    // rolls back on some errors); the next read starts anew.
                    if !db.isInsideTransaction { snapshotCommits = nil }
                    throw error
                }
            }
        }

        private func endTurn() {
            try? connection.inDatabase { db in try end(db) }
        }

        private func end(_ db: Database) throws {
            guard snapshotCommits != nil else { return }
            snapshotCommits = nil
            guard db.isInsideTransaction else { return }
            do {
                try db.cachedStatement(sql: "COMMIT").execute()
            } catch {
                try? db.cachedStatement(sql: "ROLLBACK").execute()
                if db.isInsideTransaction { throw error }
            }
        }
    }
}

/// Counts the commits of the store's writer connection (a GRDB transaction
/// observer that watches no changes, only commits), so a reader can tell
/// whether its snapshot may be missing a write.
final class CommitCounter: TransactionObserver, Sendable {
    private let commits = Atomic<UInt64>(0)

    var count: UInt64 { commits.load(ordering: .acquiring) }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) {
        commits.add(1, ordering: .releasing)
    }
    func databaseDidRollback(_ db: Database) {}
}
