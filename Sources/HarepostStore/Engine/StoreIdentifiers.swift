/// Random identifiers: a prefix and 16 lowercase base-36 characters (~82 bits)
/// from the system CSPRNG, e.g. `hr_9f2a81k2x0qz7m3d`.
enum StoreIdentifiers {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    /// Each of two 64-bit draws gives 8 base-36 digits (36^8 is a 2^-22
    /// sliver of 2^64, so the modulo bias is negligible): two system calls
    /// per identifier, not one per character.
    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var suffix = ""
        suffix.reserveCapacity(16)
        for _ in 0..<2 {
            var bits = generator.next()
            for _ in 0..<8 {
                suffix.append(alphabet[Int(bits % 36)])
                bits /= 36
            }
        }
        return "\(prefix)_\(suffix)"
    }

    /// Whether `text` has the shape `make(prefix)` produces.
    static func isValid(_ text: String, prefix: String) -> Bool {
        let body = text.utf8.dropFirst(prefix.utf8.count + 1)
        return text.hasPrefix(prefix + "_") && body.count == 16
            && body.allSatisfy { (48...57).contains($0) || (97...122).contains($0) }
    }
}
