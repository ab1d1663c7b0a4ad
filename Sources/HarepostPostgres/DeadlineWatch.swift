import NIOConcurrencyHelpers

/// Sleeps that end at a deadline, all woken by one clock loop (``run()``)
/// instead of a timer each: a bound on every database call would otherwise
/// arm and cancel a system timer per call, which cost a store more CPU than
/// the query's own bookkeeping.
final class DeadlineWatch: Sendable {
    private struct State {
        var next = 0
        var sleepers: [Int: (deadline: ContinuousClock.Instant, wake: CheckedContinuation<Void, Never>)] = [:]
        /// Sleeps cancelled before they were registered.
        var cancelled: Set<Int> = []
        var stopped = false
    }

    /// How late a sleep may end.
    let resolution: Duration
    private let state = NIOLockedValueBox(State())

    init(resolution: Duration = .milliseconds(25)) {
        self.resolution = resolution
    }

    /// Returns once `deadline` has passed (within the resolution), when the
    /// task is cancelled, or when the watch stops.
    func sleep(until deadline: ContinuousClock.Instant) async {
        let id = state.withLockedValue { state in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (wake: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { state -> Bool in
                    if state.stopped || state.cancelled.remove(id) != nil { return true }
                    state.sleepers[id] = (deadline, wake)
                    return false
                }
                if now { wake.resume() }
            }
        } onCancel: {
            let sleeper = state.withLockedValue { state in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil as CheckedContinuation<Void, Never>?
                }
                return sleeper.wake
            }
            sleeper?.resume()
        }
    }

    /// Wakes sleepers whose deadline passed, every `resolution`, until cancelled; then wakes all.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: resolution)
            let now = ContinuousClock.now
            let due = state.withLockedValue { state in
                let due = state.sleepers.filter { $0.value.deadline <= now }
                for id in due.keys { state.sleepers[id] = nil }
                return due.values.map(\.wake)
            }
            for wake in due { wake.resume() }
        }
        let all = state.withLockedValue { state in
            state.stopped = true
            defer { state.sleepers = [:] }
            return state.sleepers.values.map(\.wake)
        }
        for wake in all { wake.resume() }
    }
}
