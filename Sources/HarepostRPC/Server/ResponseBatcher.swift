import NIOConcurrencyHelpers
import NIOCore

/// The answers of one connection's calls, waiting to be written.
///
/// Calls finish independently; instead of one write and one flush (one system
/// call) per answer, a single writer takes everything that has accumulated
/// and writes it as one batch. Under load many answers share a `writev`;
/// alone, an answer is written at once.
final class ResponseBatcher: Sendable {
    private struct State {
        var buffered: [ByteBuffer] = []
        var waiter: CheckedContinuation<[ByteBuffer], Never>?
        var cancelled = false
    }

    private let state = NIOLockedValueBox(State())

    /// Hands an encoded answer to the writer; false once the writer has
    /// stopped (the connection is gone), when nobody will write it.
    func enqueue(_ frame: ByteBuffer) -> Bool {
        let (accepted, waiter) = state.withLockedValue { state -> (Bool, CheckedContinuation<[ByteBuffer], Never>?) in
            if state.cancelled { return (false, nil) }
            guard let waiter = state.waiter else {
                state.buffered.append(frame)
                return (true, nil)
            }
            state.waiter = nil
            return (true, waiter)
        }
        waiter?.resume(returning: [frame])
        return accepted
    }

    /// Everything enqueued since the last batch, waiting for at least one
    /// answer; empty once the waiting task is cancelled.
    func nextBatch() async -> [ByteBuffer] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLockedValue { state -> [ByteBuffer]? in
                    if Task.isCancelled { state.cancelled = true }
                    if !state.buffered.isEmpty || state.cancelled {
                        defer { state.buffered = [] }
                        return state.buffered
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<[ByteBuffer], Never>? in
                state.cancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: [])
        }
    }
}
