import NIOConcurrencyHelpers

/// Per-account requests per minute, counted in fixed one-minute windows (the
/// gateway's only state; it is not durable and not shared between gateways).
final class RateLimiter: Sendable {
    struct Window {
        var minute: Int64
        var count: Int
    }

    private let windows = NIOLockedValueBox([String: Window]())

    /// nil when admitted; otherwise the seconds until the window resets.
    func admit(_ accountID: String, limit: Int, nowMilliseconds: Int64) -> Int? {
        guard limit > 0 else { return nil }
        let minute = nowMilliseconds / 60_000
        return windows.withLockedValue { windows in
            if windows.count > 100_000 { windows = windows.filter { $0.value.minute == minute } }
            var window = windows[accountID] ?? Window(minute: minute, count: 0)
            if window.minute != minute { window = Window(minute: minute, count: 0) }
            guard window.count < limit else {
                return Int((60_000 - nowMilliseconds % 60_000 + 999) / 1000)
            }
            window.count += 1
            windows[accountID] = window
            return nil
        }
    }
}
