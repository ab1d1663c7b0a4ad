import NIOConcurrencyHelpers

/// A thread-safe map that starts over once it holds `capacity` entries: a
/// bound on memory for values that are cheap to recompute but worth not
/// recomputing on every request. A miss costs only the recomputation.
final class BoundedCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let capacity: Int
    private let entries = NIOLockedValueBox<[Key: Value]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(key: Key) -> Value? {
        entries.withLockedValue { $0[key] }
    }

    func insert(_ value: Value, for key: Key) {
        entries.withLockedValue { entries in
            if entries.count >= capacity { entries.removeAll() }
            entries[key] = value
        }
    }
}
