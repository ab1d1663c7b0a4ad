/// Bounds how many deliveries run at once: the claim loop takes every free
/// slot before asking the store for that many tasks, and each delivery gives
/// its slot back when done.
actor InFlightSlots {
    let limit: Int
    private(set) var inUse = 0
    private var waiter: CheckedContinuation<Void, Never>?

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Waits until at least one slot is free and takes all free slots; 0 when
    /// the calling task is cancelled.
    func takeAvailable() async -> Int {
        while inUse >= limit {
            if Task.isCancelled { return 0 }
            await withTaskCancellationHandler {
                await withCheckedContinuation { waiter = $0 }
            } onCancel: {
                Task { await self.wake() }
            }
        }
        let free = limit - inUse
        inUse = limit
        return free
    }

    func release(_ count: Int) {
        inUse -= count
        wake()
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }
}
