import Crypto
import Foundation

/// An account's environments. Every account has both; a key belongs to one.
public enum Environment: String, Sendable, CaseIterable {
    case live
    case test
}

/// Random identifiers and secrets. All randomness comes from the system CSPRNG
/// (`SystemRandomNumberGenerator` is `getrandom(2)` on Linux).
enum Credentials {
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// `acct_…`, `key_…`: 96 random bits, hex.
    static func identifier(_ prefix: String) -> String {
        "\(prefix)_\(hex(randomBytes(12)))"
    }

    /// `whsec_` + base64 of 32 random bytes (the Standard Webhooks secret format).
    static func signingSecret() -> String {
        "whsec_" + Data(randomBytes(32)).base64EncodedString()
    }
}

/// An API key: `hp_live_` or `hp_test_` followed by 64 hex digits (256 random bits).
///
/// Only ``hash`` (SHA-256) is stored. A fast hash is right here: the key has 256
/// bits of entropy, so it cannot be guessed, and a lookup must stay one cheap
/// indexed read.
struct APIKey: Sendable {
    static let secretHexDigits = 64
    /// Characters kept to recognise a key in lists: `hp_live_` + 8 hex digits.
    static let displayedPrefixLength = 16

    let environment: Environment
    let plaintext: String

    static func generate(_ environment: Environment) -> APIKey {
        APIKey(
            environment: environment,
            plaintext: "hp_\(environment.rawValue)_\(Credentials.hex(Credentials.randomBytes(32)))"
        )
    }

    /// Parses a presented key; `nil` unless it has exactly the issued shape.
    init?(parsing text: String) {
        let environment: Environment
        if text.hasPrefix("hp_live_") {
            environment = .live
        } else if text.hasPrefix("hp_test_") {
            environment = .test
        } else {
            return nil
        }
        let secret = text.utf8.dropFirst(8)
        guard secret.count == Self.secretHexDigits,
            secret.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        self.environment = environment
        self.plaintext = text
    }

    private init(environment: Environment, plaintext: String) {
        self.environment = environment
        self.plaintext = plaintext
    }

    var hash: Data { Data(SHA256.hash(data: Data(plaintext.utf8))) }
    var displayedPrefix: String { String(plaintext.prefix(Self.displayedPrefixLength)) }
}
