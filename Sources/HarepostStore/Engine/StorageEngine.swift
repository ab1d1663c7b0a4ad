import HarepostContracts
import HarepostProto
import NIOCore

/// Where the store keeps its data. The service talks only to this protocol, so
/// another engine (PostgreSQL, for many stores sharing one database) can follow
/// without touching the service code.
///
/// Every method is one transaction. Writes are durable when they return.
protocol StorageEngine: Sendable {
    // Domains
    func addDomain(accountID: String, domain: String, token: String, now: UnixMilliseconds) async throws -> DomainRecord
    func domains(accountID: String) async throws -> [DomainRecord]
    func markDomainVerified(accountID: String, domain: String, now: UnixMilliseconds) async throws -> DomainRecord

    // Sends
    /// Stores a delivery, or finds the existing one with the same idempotency
    /// key on the account (`created` false), and calls `completion` once that
    /// is durable: on `eventLoop` when given, else on a thread of the
    /// engine's, where the completion must only hand the result on. (The send
    /// RPC answers from it without a task per call.)
    func insert(
        _ delivery: NewDelivery,
        on eventLoop: (any EventLoop)?,
        completion: @escaping @Sendable (Result<(record: DeliveryRecord, created: Bool), any Error>) -> Void
    )

    // Lookups (scoped to the tenant; another tenant's id is `notFound`)
    func delivery(_ queueID: String, tenant: Tenant) async throws -> (DeliveryRecord, [AttemptRecord])
    /// Newest first; `before` is an exclusive keyset position from a previous page.
    func deliveries(tenant: Tenant, status: StoreV1.DeliveryStatus?, before: Int64?, limit: Int) async throws
        -> [DeliveryRecord]
    func attempts(tenant: Tenant, filter: AttemptFilter, limit: Int, offset: Int) async throws -> (
        records: [AttemptRecord], total: Int64
    )

    // Queue
    /// Leases up to `limit` due deliveries; each lease lasts its delivery's
    /// timeout plus `leaseMarginMilliseconds`.
    /// `workerID` names the claiming dispatcher where the engine keeps it.
    func claimDue(now: UnixMilliseconds, limit: Int, leaseMarginMilliseconds: Int64, workerID: String) async throws
        -> [LeasedDelivery]
    /// When the earliest delivery that is not leased becomes due (nil: none queued).
    func nextDueTime(now: UnixMilliseconds) async throws -> UnixMilliseconds?
    /// How much work is waiting: for metrics.
    func queueDepth(now: UnixMilliseconds) async throws -> QueueDepth
    func record(_ report: AttemptReport, queueID: String, leaseID: String, now: UnixMilliseconds) async throws
        -> StoreV1.DeliveryStatus
    func retry(_ queueID: String, tenant: Tenant, now: UnixMilliseconds) async throws -> DeliveryRecord

    // Health
    /// Why storage cannot work right now, when `error` says it cannot (a
    /// full disk, an I/O error) rather than something about one request;
    /// nil otherwise. Such a failure passes when the cause does.
    func storageFailure(_ error: any Error) -> String?
    /// A small durable write, to find out whether writes work again.
    func probeWrite() async throws

    /// Whether the engine can serve at all (a database's schema is current);
    /// health says NOT_SERVING until it is.
    var isReady: Bool { get }

    /// The longest a long poll may sleep without looking again: set where
    /// another process can make work due without waking this one for sure.
    var maximumNap: Duration? { get }
}

/// An engine whose point reads (a delivery by id, one keyset page) touch
/// O(1) index entries in local storage and answer without waiting: the
/// service serves them on the RPC connection's event loop
/// (`RPCRouter.register(_:immediate:)`), the fast path of docs/rpc.md.
protocol ImmediatePointReads: StorageEngine {
    func delivery(_ queueID: String, tenant: Tenant) throws -> (DeliveryRecord, [AttemptRecord])
    func deliveries(tenant: Tenant, status: StoreV1.DeliveryStatus?, before: Int64?, limit: Int) throws
        -> [DeliveryRecord]
}

extension StorageEngine {
    var isReady: Bool { true }

    /// ``insert(_:on:completion:)``, awaited.
    func insert(_ delivery: NewDelivery) async throws -> (record: DeliveryRecord, created: Bool) {
        try await withUnsafeThrowingContinuation { continuation in
            insert(delivery, on: nil) { continuation.resume(with: $0) }
        }
    }
}
