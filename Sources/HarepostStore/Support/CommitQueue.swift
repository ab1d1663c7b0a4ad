import NIOConcurrencyHelpers
import NIOCore

/// Writes waiting for the next group commit, and whether a commit is under
/// way: the first writer that finds none becomes the committer and takes
/// batches (``next(limit:)``) until none is left. Both engines group their
/// writes with it, so concurrent writes share one sync to disk.
final class CommitQueue<Job: Sendable>: Sendable {
    private let state = NIOLockedValueBox((pending: [Job](), committing: false))

    /// Adds `job`; true when the caller must become the committer.
    func enqueue(_ job: Job) -> Bool {
        state.withLockedValue { state in
            state.pending.append(job)
            if state.committing { return false }
            state.committing = true
            return true
        }
    }

    /// The next batch, oldest first, at most `limit`; empty once none is
    /// left, which ends the commit under way.
    func next(limit: Int = .max) -> [Job] {
        state.withLockedValue { state in
            if state.pending.isEmpty {
                state.committing = false
                return []
            }
            let batch = Array(state.pending.prefix(limit))
            state.pending.removeFirst(batch.count)
            return batch
        }
    }

    /// Writes waiting for the next batch.
    var waiting: Int { state.withLockedValue { $0.pending.count } }
}

/// The answers of one commit: those for one event loop run together in one
/// task there, the others (no loop) at once, on the committer's thread.
enum CommitAnswers {
    static func deliver(_ answers: [(eventLoop: (any EventLoop)?, answer: @Sendable () -> Void)]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, answers: [@Sendable () -> Void])] = [:]
        for (loop, answer) in answers {
            guard let loop else {
                answer()
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].answers.append(answer)
        }
        for (loop, answers) in byLoop.values {
            loop.execute {
                for answer in answers { answer() }
            }
        }
    }
}
