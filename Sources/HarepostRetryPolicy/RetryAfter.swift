import HarepostTime

/// Parses a `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110),
/// relative to `nowMilliseconds` (Unix time). `nil` when malformed.
public enum RetryAfter {
    public static func milliseconds(_ value: String, nowMilliseconds: Int64) -> Int64? {
        let text = value.trimmingCharacters(in: " \t")
        if !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }) {
            guard let seconds = Int64(text), seconds <= 366 * 86_400 else { return nil }
            return seconds * 1000
        }
        guard let date = httpDateMilliseconds(String(text)) else { return nil }
        return max(0, date - nowMilliseconds)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDateMilliseconds(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int64(parts[1]), let month = months.firstIndex(of: String(parts[2])), let year = Int64(parts[3])
        else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int64($0) }
        guard clock.count == 3, (1...31).contains(day), clock[0] < 24, clock[1] < 60, clock[2] < 61 else { return nil }
        let seconds = RFC3339.unixSeconds(
            year: year,
            month: Int64(month + 1),
            day: day,
            hour: clock[0],
            minute: clock[1],
            second: min(clock[2], 59)
        )
        return seconds * 1000
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        let characters = Set(set)
        var text = Substring(self)
        while let first = text.first, characters.contains(first) { text.removeFirst() }
        while let last = text.last, characters.contains(last) { text.removeLast() }
        return text
    }
}
