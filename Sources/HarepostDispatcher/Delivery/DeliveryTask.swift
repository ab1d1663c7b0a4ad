import HarepostProto
import HarepostRetryPolicy

/// A `harepost.store.v1.DeliveryTask` the store leased to this dispatcher.
struct DeliveryTask: Sendable {
    let queueID: String
    let accountID: String
    let environment: String
    let leaseID: String
    let leaseExpiresAt: UnixMilliseconds
    let attemptNumber: Int
    let target: String
    let method: String
    let headers: [String: String]
    let body: [UInt8]
    let idempotencyKey: String?
    /// The originating send's request id, carried into logs and the record call.
    let requestID: String?
    let sign: Bool
    let policy: RetryPolicy
    let timeoutMilliseconds: Int64

    init(_ message: ProtoMessage) throws(ProtoError) {
        queueID = message.string("queue_id") ?? ""
        accountID = message.string("account_id") ?? ""
        environment = message.enumName("environment") ?? "live"
        leaseID = message.string("lease_id") ?? ""
        leaseExpiresAt = message.message("lease_expires_at")?.unixMilliseconds ?? 0
        attemptNumber = Int(message.int64("attempt_number") ?? 1)
        target = message.string("target") ?? ""
        method = message.string("method") ?? "POST"
        headers = message.stringMap("headers")
        body = message["body"]?.bytesValue ?? []
        idempotencyKey = message.has("idempotency_key") ? message.string("idempotency_key") : nil
        requestID = message.has("request_id") ? message.string("request_id") : nil
        sign = message.bool("sign") ?? false
        // The store resolves and clamps every policy field; these defaults only
        // guard against a task from an older store that left one out.
        let delivery = message.message("delivery")
        policy = RetryPolicy(
            maxAttempts: Int(delivery?.int64("max_attempts") ?? 5),
            backoff: RetryPolicy.Backoff(rawValue: delivery?.enumName("backoff") ?? "") ?? .exponential,
            baseDelayMilliseconds: delivery?.int64("base_delay_ms") ?? 1000,
            maxDelayMilliseconds: delivery?.int64("max_delay_ms") ?? 3_600_000,
            jitter: RetryPolicy.Jitter(rawValue: delivery?.enumName("jitter") ?? "") ?? .full,
            respectRetryAfter: delivery?.bool("respect_retry_after") ?? true
        )
        timeoutMilliseconds = delivery?.int64("timeout_ms") ?? 10_000
    }
}
