import NIOConcurrencyHelpers

/// Wakes long-polling claims when work may have become due (a send, a retry).
final class DueSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    func notify() {
        let waiters = state.withLockedValue { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
    }

    var generation: UInt64 { state.withLockedValue { $0.generation } }

    /// Claims waiting for a notification right now.
    var waiting: Int { state.withLockedValue { $0.waiters.count } }

    /// Returns when notified after `generation` was read, or when `duration` passes.
    func wait(since generation: UInt64, atMost duration: Duration) async {
        guard duration > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.waitForNotification(since: generation) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForNotification(since generation: UInt64) async {
        let id = state.withLockedValue { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLockedValue { state in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
