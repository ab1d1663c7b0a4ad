public import HarepostTime
import Synchronization

/// A wall clock that stands still until a test moves it.
public final class ManualWallClock: WallClock {
    private let now: Atomic<Int64>

    /// - Parameter unixMilliseconds: where it starts (a fixed moment, so
    ///   window boundaries are where the test puts them).
    public init(unixMilliseconds: Int64 = 1_781_100_000_000) {
        now = Atomic(unixMilliseconds)
    }

    public var unixMilliseconds: Int64 { now.load(ordering: .relaxed) }

    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        now.add(seconds * 1000 + attoseconds / 1_000_000_000_000_000, ordering: .relaxed)
    }
}
