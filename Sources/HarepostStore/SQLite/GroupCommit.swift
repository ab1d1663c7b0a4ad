import GRDB
import NIOConcurrencyHelpers

/// Commits many concurrent writes in one SQLite transaction, so they share one
/// sync to disk.
///
/// The first caller that finds no commit under way becomes the committer: on
/// GRDB's writer queue it takes every pending job, runs each in its own
/// savepoint (a failing job rolls back alone), commits once, answers all of
/// them, and repeats while jobs arrived meanwhile. Callers are answered only
/// after the commit that holds their change is durable.
final class GroupCommit: Sendable {
    private struct Job {
        let run: @Sendable (Database) throws -> Void
        let finish: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var committing = false
        var transactions = 0
        var writes = 0
    }

    private let pool: DatabasePool
    private let state = NIOLockedValueBox(State())

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Transactions committed and writes they carried, since start: how well
    /// writes are grouped (writes / transactions).
    var statistics: (transactions: Int, writes: Int) {
        state.withLockedValue { ($0.transactions, $0.writes) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withUnsafeThrowingContinuation { continuation in
            write(body) { continuation.resume(with: $0) }
        }
    }

    /// Runs `body` in the next group commit and calls `completion` once that
    /// commit is durable (or failed), on the writer's thread: the completion
    /// must only hand the result on.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let box = ResultBox<T>()
        let job = Job(
            run: { db in box.value = try body(db) },
            finish: { result in completion(result.map { box.value! }) }
        )
        let becomeCommitter = state.withLockedValue { state in
            state.pending.append(job)
            if state.committing { return false }
            state.committing = true
            return true
        }
        if becomeCommitter {
            pool.asyncWriteWithoutTransaction { db in self.commitPending(db) }
        }
    }

    private func commitPending(_ db: Database) {
        while true {
            let batch = state.withLockedValue { state -> [Job] in
                defer { state.pending = [] }
                if state.pending.isEmpty { state.committing = false }
                return state.pending
            }
            if batch.isEmpty { return }
            var outcomes = [Result<Void, any Error>](repeating: .success(()), count: batch.count)
            do {
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
                state.withLockedValue { state in
                    state.transactions += 1
                    state.writes += batch.count
                }
            } catch {
                outcomes = Array(repeating: .failure(error), count: batch.count)
            }
            for (job, outcome) in zip(batch, outcomes) { job.finish(outcome) }
        }
    }
}

/// Carries a job's value from the writer queue to its caller; written once before
/// the commit, read once after it.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
