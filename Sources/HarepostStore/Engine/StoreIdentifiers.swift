import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Identifiers: a prefix and 16 lowercase base-36 characters, e.g.
/// `hr_0t8k2m1x9f2a81k2`.
///
/// Row ids (deliveries, attempts, destinations, connections) are
/// ``timeOrdered(_:)``: a row's id is also a key of a unique index, and a
/// random key lands on a random leaf page of that index, so each write of a
/// group commit dirtied its own page, written to the WAL and checkpointed
/// again (about 4 KiB twice per send). Time-ordered ids
/// append at the index's right edge, as the sequence numbers do.
/// Secrets and leases stay ``random(_:)``.
enum StoreIdentifiers {
    /// A delivery's queue id starts `hr_`.
    static let deliveryPrefix = "hr"
    private static let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
    /// 36^8: the values eight base-36 digits hold.
    static let span: UInt64 = 2_821_109_907_456
    /// The time part counts milliseconds from 2025-01-01T00:00:00Z; eight
    /// digits last 89 years, until 2114, and then wrap around.
    static let epochMilliseconds: UInt64 = 1_735_689_600_000

    /// About 82 bits from the system CSPRNG: for values that must not be
    /// guessable, such as a domain's verification token.
    static func random(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        // 36^8 is a 2^-22 sliver of 2^64: the modulo bias is negligible.
        return format(prefix, generator.next() % span, generator.next() % span)
    }

    /// Eight digits of milliseconds since ``epochMilliseconds``, then eight
    /// of a counter: ids made later sort after ids made earlier, and ids are
    /// unique within the process even when the clock stands still or steps
    /// back. A new millisecond starts the counter at a random value in the
    /// lower half of its range, so ids of different processes (a restarted
    /// store whose clock stepped back) collide with chance about 2^-40 for a
    /// pair made in the same millisecond; the unique index refuses such a
    /// row rather than overwriting one.
    static func timeOrdered(_ prefix: String) -> String {
        let (time, counter) = clock.withLockedValue { state -> (UInt64, UInt64) in
            let now = currentMilliseconds()
            state.advance(toMilliseconds: now > epochMilliseconds ? now - epochMilliseconds : 0)
            return (state.time, state.counter)
        }
        return format(prefix, time % span, counter)
    }

    /// The last time and counter handed out.
    struct Clock {
        var time: UInt64 = 0
        var counter: UInt64 = 0

        mutating func advance(toMilliseconds now: UInt64) {
            if now > time {
                time = now
                var generator = SystemRandomNumberGenerator()
                counter = generator.next() % (span / 2)
            } else if counter + 1 < span {
                counter += 1
            } else {
                time += 1
                counter = 0
            }
        }
    }

    private static let clock = NIOLockedValueBox(Clock())

    private static func currentMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(max(0, now.tv_sec)) * 1000 + UInt64(max(0, now.tv_nsec)) / 1_000_000
    }

    /// `prefix_` and two eight-digit base-36 numbers, most significant digit
    /// first, so that the text sorts as the numbers do.
    static func format(_ prefix: String, _ high: UInt64, _ low: UInt64) -> String {
        let prefixLength = prefix.utf8.count
        return String(unsafeUninitializedCapacity: prefixLength + 17) { buffer in
            var index = 0
            for byte in prefix.utf8 {
                buffer[index] = byte
                index += 1
            }
            buffer[index] = UInt8(ascii: "_")
            func write(_ value: UInt64, endingAt last: Int) {
                var rest = value
                for position in stride(from: last, to: last - 8, by: -1) {
                    buffer[position] = digits[Int(rest % 36)]
                    rest /= 36
                }
            }
            write(high, endingAt: index + 8)
            write(low, endingAt: index + 16)
            return prefixLength + 17
        }
    }
}
