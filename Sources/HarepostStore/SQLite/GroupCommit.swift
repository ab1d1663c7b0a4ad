import GRDB
import NIOConcurrencyHelpers
import NIOCore

/// Commits many concurrent writes in one SQLite transaction, so they share one
/// sync to disk.
///
/// The first caller that finds no commit under way becomes the committer: on
/// GRDB's writer queue it takes every pending job, runs them all in one
/// transaction, commits once, answers all of them, and repeats while jobs
/// arrived meanwhile. Callers are answered only after the commit that holds
/// their change is durable.
///
/// A failing job fails alone. The jobs first run without savepoints (a
/// savepoint per job is a real share of the writer's time); when one
/// throws, the transaction rolls back and the
/// batch runs again with a savepoint per job. A job may therefore run twice:
/// it must do nothing but its database work.
final class GroupCommit: Sendable {
    private struct Job: Sendable {
        let run: @Sendable (Database) throws -> Void
        let finish: @Sendable (Result<Void, any Error>) -> Void
        /// Where `finish` runs; nil: on the writer's thread.
        let eventLoop: (any EventLoop)?
    }

    private struct Statistics {
        var transactions = 0
        var writes = 0
        var retriedBatches = 0
    }

    private let pool: DatabasePool
    private let queue = CommitQueue<Job>()
    private let counts = NIOLockedValueBox(Statistics())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Transactions committed, writes they carried (writes / transactions:
    /// how well writes are grouped), and batches run again with savepoints
    /// because a job failed, since start.
    var statistics: (transactions: Int, writes: Int, retriedBatches: Int) {
        counts.withLockedValue { ($0.transactions, $0.writes, $0.retriedBatches) }
    }

    /// Writes waiting for the next batch.
    var waiting: Int { queue.waiting }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            write(body, on: nil) { continuation.resume(with: $0) }
        }
    }

    /// Runs `body` in the next group commit and calls `completion` once that
    /// commit is durable (or failed): on `eventLoop` when given, where the
    /// completions of one commit run together in one task; otherwise on the
    /// writer's thread, where the completion must only hand the result on.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        on eventLoop: (any EventLoop)?,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let box = ResultBox<T>()
        let job = Job(
            run: { db in box.value = try body(db) },
            finish: { result in completion(result.map { box.value! }) },
            eventLoop: eventLoop
        )
        if queue.enqueue(job) {
            pool.asyncWriteWithoutTransaction { db in self.commitPending(db) }
        }
    }

    private func commitPending(_ db: Database) {
        while true {
            let batch = queue.next()
            if batch.isEmpty { return }
            let outcomes: [Result<Void, any Error>]
            do {
                outcomes = try commit(batch, db)
            } catch {
                outcomes = Array(repeating: .failure(error), count: batch.count)
            }
            CommitAnswers.deliver(
                zip(batch, outcomes).map { job, outcome in (job.eventLoop, { job.finish(outcome) }) }
            )
        }
    }

    /// Runs the batch in one transaction and commits it; the outcome of each job.
    private func commit(_ batch: [Job], _ db: Database) throws -> [Result<Void, any Error>] {
        var failed = false
        try db.inTransaction {
            for job in batch {
                do {
                    try job.run(db)
                } catch {
                    failed = true
                    return .rollback
                }
            }
            return .commit
        }
        var outcomes = [Result<Void, any Error>](repeating: .success(()), count: batch.count)
        if failed {
            try db.inTransaction {
                for (index, job) in batch.enumerated() {
                    try db.inSavepoint {
                        do {
                            try job.run(db)
                            return .commit
                        } catch {
                            outcomes[index] = .failure(error)
                            return .rollback
                        }
                    }
                }
                return .commit
            }
        }
        counts.withLockedValue { state in
            state.transactions += 1
            state.writes += batch.count
            if failed { state.retriedBatches += 1 }
        }
        return outcomes
    }
}

/// Carries a job's value from the writer queue to its caller; written before
/// the commit (again if the batch runs again), read once after it.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
