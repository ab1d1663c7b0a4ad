/// Random identifiers: a prefix and 16 lowercase base-36 characters (~82 bits)
/// from the system CSPRNG, e.g. `hr_9f2a81k2x0qz7m3d`.
enum StoreIdentifiers {
    private static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let suffix = String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
        return "\(prefix)_\(suffix)"
    }

    /// Whether `text` has the shape `make(prefix)` produces.
    static func isValid(_ text: String, prefix: String) -> Bool {
        let body = text.utf8.dropFirst(prefix.utf8.count + 1)
        return text.hasPrefix(prefix + "_") && body.count == 16
            && body.allSatisfy { (48...57).contains($0) || (97...122).contains($0) }
    }
}
