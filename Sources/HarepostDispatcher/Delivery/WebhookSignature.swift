import Crypto
import Foundation

/// `X-Harepost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
/// keyed with the account's signing secret (the whole `whsec_…` string's bytes).
/// One `v1=` entry per valid secret, so receivers can rotate at leisure.
public enum WebhookSignature {
    public static func header(body: [UInt8], timestamp: Int64, secrets: [String]) -> String {
        var signed = Array("\(timestamp).".utf8)
        signed += body
        let signatures = secrets.map { secret -> String in
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
            return "v1=" + mac.map { String(format: "%02x", $0) }.joined()
        }
        return (["t=\(timestamp)"] + signatures).joined(separator: ",")
    }
}
