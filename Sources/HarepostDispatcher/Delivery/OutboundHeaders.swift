import Crypto
import Foundation

/// The headers a delivery is sent with: the client's (the store already
/// dropped hop-by-hop and credential headers), then harepost's own, which
/// replace any client header of the same name.
enum OutboundHeaders {
    static let deliveryID = "X-Harepost-Delivery-Id"
    static let attempt = "X-Harepost-Attempt"
    static let idempotencyKey = "X-Harepost-Idempotency-Key"
    static let signature = "X-Harepost-Signature"

    /// - Parameters:
    ///   - secrets: the account's valid signing secrets when the send asked to be signed.
    ///   - standardWebhooks: also send `webhook-id`, `webhook-timestamp` and `webhook-signature`.
    static func make(
        for task: DeliveryTask,
        secrets: [String]?,
        standardWebhooks: Bool,
        unixSeconds: Int64
    ) -> [(name: String, value: String)] {
        var own: [(name: String, value: String)] = [
            (deliveryID, task.queueID),
            (attempt, String(task.attemptNumber)),
        ]
        if let key = task.idempotencyKey { own.append((idempotencyKey, key)) }
        if let secrets, !secrets.isEmpty {
            own.append(
                (signature, WebhookSignature.header(body: task.body, timestamp: unixSeconds, secrets: secrets))
            )
            if standardWebhooks {
                own.append(("webhook-id", task.queueID))
                own.append(("webhook-timestamp", String(unixSeconds)))
                own.append(
                    (
                        "webhook-signature",
                        StandardWebhooks.signature(
                            id: task.queueID,
                            timestamp: unixSeconds,
                            body: task.body,
                            secrets: secrets
                        )
                    )
                )
            }
        }
        let ownNames = Set(own.map { $0.name.lowercased() })
        let client = task.headers.sorted { $0.key < $1.key }.filter { !ownNames.contains($0.key.lowercased()) }
        return client.map { (name: $0.key, value: $0.value) } + own
    }
}

/// The Standard Webhooks signature (standardwebhooks.com): `v1,<base64
/// HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the base64-decoded
/// part of the `whsec_` secret; one space-separated entry per valid secret.
enum StandardWebhooks {
    static func signature(id: String, timestamp: Int64, body: [UInt8], secrets: [String]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        return secrets.compactMap { secret -> String? in
            let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
            guard let key = Data(base64Encoded: encoded) else { return nil }
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }
}
