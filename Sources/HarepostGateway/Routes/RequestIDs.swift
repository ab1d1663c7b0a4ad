import Synchronization

/// Request ids for requests that come without `X-Request-Id`: 128 bits as 32
/// lowercase hex digits, what a UUID carries.
///
/// The first 64 bits are drawn from the system once per process; the last 64
/// are a per-process counter passed through SplitMix64's finalizer, a
/// bijection, so no two ids of one process are equal and consecutive ids do
/// not look alike. Drawing 128 random bits per request cost two `getrandom`
/// system calls on every request.
enum RequestIDs {
    private static let processBits: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return format(processBits, scramble(count))
    }

    /// SplitMix64's output function: invertible, so distinct inputs give distinct outputs.
    static func scramble(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func format(_ high: UInt64, _ low: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 32) { buffer in
            digits.withUTF8Buffer { digits in
                for index in 0..<16 {
                    let shift = UInt64(60 - 4 * index)
                    buffer[index] = digits[Int((high >> shift) & 0xF)]
                    buffer[16 + index] = digits[Int((low >> shift) & 0xF)]
                }
            }
            return 32
        }
    }
}
