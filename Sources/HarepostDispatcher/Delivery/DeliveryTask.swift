import HarepostContracts
import HarepostProto
import HarepostRetryPolicy

/// A `harepost.store.v1.DeliveryTask` the store leased to this dispatcher.
struct DeliveryTask: Sendable {
    let queueID: String
    let accountID: String
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

    init(_ task: StoreV1.DeliveryTask) {
        queueID = task.queueID
        accountID = task.accountID
        leaseID = task.leaseID
        leaseExpiresAt = task.leaseExpiresAt?.unixMilliseconds ?? 0
        attemptNumber = Int(task.attemptNumber)
        target = task.target
        method = task.method.isEmpty ? "POST" : task.method
        headers = task.headers
        body = task.body
        idempotencyKey = task.idempotencyKey
        requestID = task.requestID
        sign = task.sign
        // The store resolves and clamps every policy field; these defaults only
        // guard against a task from an older store that left one out.
        let delivery = task.delivery
        policy = RetryPolicy(
            maxAttempts: Int(delivery?.maxAttempts ?? 5),
            backoff: delivery?.backoff == .fixed ? .fixed : .exponential,
            baseDelayMilliseconds: delivery?.baseDelayMs ?? 1000,
            maxDelayMilliseconds: delivery?.maxDelayMs ?? 3_600_000,
            jitter: delivery?.jitter == StoreV1.Jitter.none ? .none : .full,
            respectRetryAfter: delivery?.respectRetryAfter ?? true
        )
        timeoutMilliseconds = delivery?.timeoutMs ?? 10_000
    }
}
