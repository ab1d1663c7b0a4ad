#if canImport(Glibc)
    import Glibc
#endif

/// Where a component reads the time of day (Unix milliseconds): stored
/// timestamps, leases, backoff, rate-limit windows. Injected, so tests move
/// time forward instead of waiting for it to pass.
public protocol WallClock: Sendable {
    var unixMilliseconds: Int64 { get }
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}

    public var unixMilliseconds: Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}
