import Foundation
public import HarepostContracts
import HarepostProto

/// Whose data a call may see: an account and one of its environments.
public struct Tenant: Sendable, Hashable {
    public let accountID: String
    public let environment: AuthV1.Environment

    public init(accountID: String, environment: AuthV1.Environment) {
        self.accountID = accountID
        self.environment = environment
    }
}

/// A delivery's retry policy, resolved (every value present, clamped).
public struct DeliveryPolicy: Sendable, Equatable {
    public var maxAttempts: Int64
    public var backoff: StoreV1.Backoff
    public var baseDelayMilliseconds: Int64
    public var maxDelayMilliseconds: Int64
    public var jitter: StoreV1.Jitter
    public var timeoutMilliseconds: Int64
    public var respectRetryAfter: Bool
}

/// A send, validated and ready to store.
struct NewDelivery: Sendable {
    let queueID: String
    let tenant: Tenant
    let target: String
    let method: String
    let headers: [String: String]
    let body: [UInt8]
    let metadataJSON: String?
    let sign: Bool
    let idempotencyKey: String?
    let policy: DeliveryPolicy
    let destinationOrigin: String
    let destinationName: String
    let connectionName: String
    let createdAt: UnixMilliseconds
    /// The send's request id (X-Request-Id at the gateway), for logs.
    let requestID: String?

    /// The same send under another queue id (the first was taken).
    func withQueueID(_ queueID: String) -> NewDelivery {
        NewDelivery(
            queueID: queueID,
            tenant: tenant,
            target: target,
            method: method,
            headers: headers,
            body: body,
            metadataJSON: metadataJSON,
            sign: sign,
            idempotencyKey: idempotencyKey,
            policy: policy,
            destinationOrigin: destinationOrigin,
            destinationName: destinationName,
            connectionName: connectionName,
            createdAt: createdAt,
            requestID: requestID
        )
    }
}

/// A stored delivery, as lookups and the queue see it.
struct DeliveryRecord: Sendable, Equatable {
    var seq: Int64
    let queueID: String
    let tenant: Tenant
    let target: String
    let method: String
    let headersJSON: String
    let body: [UInt8]
    let sign: Bool
    let idempotencyKey: String?
    let policy: DeliveryPolicy
    let status: StoreV1.DeliveryStatus
    let attempts: Int64
    let lastStatus: Int64?
    let createdAt: UnixMilliseconds
    let updatedAt: UnixMilliseconds
    let nextTrigger: StoreV1.TriggerType
    let requestID: String?
}

extension DeliveryRecord {
    /// `delivery` as its row reads right after the insert, at `seq`.
    init(inserted delivery: NewDelivery, headersJSON: String, seq: Int64) {
        self.init(
            seq: seq,
            queueID: delivery.queueID,
            tenant: delivery.tenant,
            target: delivery.target,
            method: delivery.method,
            headersJSON: headersJSON,
            body: delivery.body,
            sign: delivery.sign,
            idempotencyKey: delivery.idempotencyKey,
            policy: delivery.policy,
            status: .queued,
            attempts: 0,
            lastStatus: nil,
            createdAt: delivery.createdAt,
            updatedAt: delivery.createdAt,
            nextTrigger: .initial,
            requestID: delivery.requestID
        )
    }
}

/// One attempt as stored.
struct AttemptRecord: Sendable, Equatable {
    let id: String
    let queueID: String
    let tenant: Tenant
    let connectionID: String
    let destinationID: String
    let connectionName: String
    let destinationName: String
    let attemptNumber: Int64
    let triggerType: StoreV1.TriggerType
    let outcome: StoreV1.AttemptOutcome
    let httpStatus: Int64?
    let durationMilliseconds: Int64?
    let error: String?
    let requestURL: String
    let requestMethod: String
    let requestHeadersJSON: String?
    let requestBodySize: Int64
    let responseHeadersJSON: String?
    let responseBody: String?
    let createdAt: UnixMilliseconds
    let nextRetryAt: UnixMilliseconds?
    let isDLQ: Bool
    let dlqAt: UnixMilliseconds?
}

/// A delivery leased to a dispatcher.
struct LeasedDelivery: Sendable {
    let delivery: DeliveryRecord
    let leaseID: String
    let leaseExpiresAt: UnixMilliseconds
    /// The number this attempt carries: one past the attempts recorded and
    /// those whose lease expired unrecorded.
    let attemptNumber: Int64
}

/// What a dispatcher reports for one attempt.
struct AttemptReport: Sendable {
    let outcome: StoreV1.AttemptOutcome
    let httpStatus: Int64?
    let durationMilliseconds: Int64?
    let error: String?
    let requestURL: String
    let requestMethod: String
    let requestHeadersJSON: String?
    let requestBodySize: Int64
    let responseHeadersJSON: String?
    let responseBody: String?
    let newStatus: StoreV1.DeliveryStatus
    let nextAttemptAt: UnixMilliseconds?
}

struct DomainRecord: Sendable {
    let domain: String
    let token: String
    let status: StoreV1.DomainStatus
    let createdAt: UnixMilliseconds
    let verifiedAt: UnixMilliseconds?
}

struct AttemptFilter: Sendable {
    var eventID: String?
    var connectionID: String?
    var destinationID: String?
    var outcome: StoreV1.AttemptOutcome?
    var isDLQ: Bool?
}

enum StorageError: Error, Equatable {
    case notFound
    /// The lease is not (or no longer) held by the caller.
    case leaseNotHeld
    /// The delivery is not in a state that allows the change.
    case invalidState(String)
}

/// The deliveries not yet in a terminal status.
public struct QueueDepth: Sendable, Equatable {
    /// Every delivery still to be attempted (queued, retrying, or leased).
    public var pending: Int
    /// Pending and due now but not leased: the dispatchers' backlog.
    public var due: Int
    /// Being attempted by a dispatcher right now.
    public var leased: Int
}
