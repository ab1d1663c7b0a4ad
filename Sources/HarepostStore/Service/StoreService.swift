import Foundation
import HarepostContracts
import HarepostJSON
import HarepostNetworkPolicy
public import HarepostPostgres
import HarepostProto
public import HarepostRPC
public import HarepostTime
public import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
public import ServiceLifecycle

/// The `harepost.store.v1.Store` service: the source of truth for every delivery.
public struct StoreService: Sendable {
    public struct Configuration: Sendable {
        /// Accept `http://` targets (development only).
        public var allowHTTP: Bool
        /// Accept targets that are or resolve to internal addresses (development only).
        public var allowPrivateTargets: Bool
        /// Deliver to any domain, verified or not.
        public var trustAllDomains: Bool
        /// Added to a delivery's timeout to make its lease.
        public var leaseMarginMilliseconds: Int64
        /// The longest a ClaimDue long poll waits.
        public var maximumClaimWait: Duration
        /// The DNS server domain verification asks for `_harepost-challenge` TXT records.
        public var dnsResolver: DNSTXTResolver
        /// The time of day: timestamps, when work is due, leases.
        public var clock: any WallClock

        public init(
            allowHTTP: Bool = false,
            allowPrivateTargets: Bool = false,
            trustAllDomains: Bool = false,
            leaseMarginMilliseconds: Int64 = 30_000,
            maximumClaimWait: Duration = .seconds(30),
            dnsResolver: DNSTXTResolver = .system(),
            clock: any WallClock = SystemWallClock()
        ) {
            self.allowHTTP = allowHTTP
            self.allowPrivateTargets = allowPrivateTargets
            self.trustAllDomains = trustAllDomains
            self.leaseMarginMilliseconds = leaseMarginMilliseconds
            self.maximumClaimWait = maximumClaimWait
            self.dnsResolver = dnsResolver
            self.clock = clock
        }
    }

    let engine: any StorageEngine
    let configuration: Configuration
    let due = DueSignal()
    let health: StorageHealth

    /// What runs beside the RPC server for as long as the store serves
    /// (the PostgreSQL pool and its listener); start them before it.
    public let backgroundServices: [any Service]

    /// A store on the embedded SQLite engine at `path`.
    public init(sqlitePath path: String, configuration: Configuration = Configuration()) throws {
        self.init(engine: try SQLiteEngine(path: path), configuration: configuration, backgroundServices: [])
    }

    /// The store's schema steps, for the ``PostgresBackend`` it runs on.
    public static let postgresMigrations = PostgresSchema.migrations

    /// A store on PostgreSQL: several stores may share the database.
    public init(postgres database: PostgresBackend, configuration: Configuration = Configuration(), logger: Logger) {
        let engine = PostgresEngine(database: database, logger: logger)
        self.init(
            engine: engine,
            configuration: configuration,
            backgroundServices: [database, BackgroundTask { await engine.listen() }]
        )
        let due = self.due
        engine.wake.withLockedValue { $0 = { due.notify() } }
    }

    init(engine: any StorageEngine, configuration: Configuration, backgroundServices: [any Service]) {
        self.engine = engine
        self.configuration = configuration
        self.backgroundServices = backgroundServices
        self.health = StorageHealth(classify: { engine.storageFailure($0) }, probe: { try await engine.probeWrite() })
    }

    public func router() throws -> RPCRouter {
        typealias Store = StoreV1.Store
        typealias Method<M: RPCMethodContract> =
            @Sendable (StoreService) -> (M.Input, RPCContext) async throws -> M.Output
        var router = RPCRouter()
        // Each handler's errors become the caller's statuses (`status(of:_:)`).
        func register<M: RPCMethodContract>(_ method: M.Type, _ handler: @escaping Method<M>) throws {
            try router.register(method) { request, context in
                do { return try await handler(self)(request, context) } catch { throw status(of: error, context) }
            }
        }
        try register(Store.AddDomain.self, StoreService.addDomain)
        try register(Store.VerifyDomain.self, StoreService.verifyDomain)
        try register(Store.ListDomains.self, StoreService.listDomains)
        try register(Store.RetryDelivery.self, StoreService.retryDelivery)
        try register(Store.ListDeliveryAttempts.self, StoreService.listDeliveryAttempts)
        try register(Store.ClaimDue.self, StoreService.claimDue)
        try register(Store.RecordAttempt.self, StoreService.recordAttempt)
        if let local = engine as? any ImmediatePointReads {
            // Point reads: answered on the connection's event loop, no task.
            try router.register(
                Store.GetDelivery.self,
                immediate: { request, context in
                    do { return try getDelivery(request, context, local) } catch { throw status(of: error, context) }
                }
            )
            try router.register(
                Store.ListDeliveries.self,
                immediate: { request, context in
                    do { return try listDeliveries(request, context, local) } catch {
                        throw status(of: error, context)
                    }
                }
            )
        } else {
            try register(Store.GetDelivery.self, StoreService.getDelivery)
            try register(Store.ListDeliveries.self, StoreService.listDeliveries)
        }
        // Sends: validated on the event loop, answered from the group commit
        // (storage errors already mapped to statuses: no second future).
        try router.register(Store.Send.self, future: { request, context, promise in send(request, context, promise) })
        let health = self.health
        let engine = self.engine
        router.isServing = { engine.isReady && health.isServing() }
        return router
    }

    /// What the caller gets for an error a method threw: a storage failure
    /// is UNAVAILABLE (``StorageHealth``), an engine error its status, the
    /// rest as thrown.
    func status(of error: any Error, _ context: RPCContext) -> any Error {
        if let storage = error as? StorageError { return Self.status(of: storage) }
        return health.status(for: error, logger: context.logger) ?? error
    }

    /// A storage error the service did not handle, as the caller's status.
    static func status(of error: StorageError) -> any Error {
        switch error {
        case .invalidState(let reason):
            RPCError.failedPrecondition(reason)
        case .leaseNotHeld:
            RPCError.failedPrecondition("the lease on this delivery is not held (expired or taken over)")
        case .notFound:
            error
        }
    }

    var now: UnixMilliseconds { configuration.clock.unixMilliseconds }

    /// The caller's account and environment, from call metadata. Both are
    /// required: a store's data is per environment, and a caller holding a
    /// test key must not land in live by leaving the environment out.
    func tenant(_ context: RPCContext) throws(RPCError) -> Tenant {
        let account = try context.requireAccountID()
        guard let environment = context.metadata[RPCMetadataKey.environment] else {
            throw .invalidArgument(
                "the call names an account but no environment (metadata \(RPCMetadataKey.environment): live or test)"
            )
        }
        guard let parsed = AuthV1.Environment(jsonName: environment), parsed == .live || parsed == .test else {
            throw .invalidArgument(
                "environment must be live or test (lower case), not \"\(environment)\""
            )
        }
        return Tenant(accountID: account, environment: parsed)
    }

    // MARK: Domains

    func addDomain(_ request: StoreV1.AddDomainRequest, _ context: RPCContext) async throws
        -> StoreV1.AddDomainResponse
    {
        let account = try context.requireAccountID()
        let domain = try Self.domainName(request.domain)
        let record = try await engine.addDomain(
            accountID: account,
            domain: domain,
            token: StoreIdentifiers.random("hv"),
            now: now
        )
        var dnsRecord = StoreV1.DnsRecord()
        dnsRecord.type = "TXT"
        dnsRecord.name = "_harepost-challenge.\(record.domain)"
        dnsRecord.value = "harepost-verify=\(record.token)"
        var response = StoreV1.AddDomainResponse()
        response.domain = record.domain
        response.status = record.status
        response.record = dnsRecord
        return response
    }

    /// Looks the challenge TXT record up in DNS; ABORTED (HTTP 409) until it is there.
    func verifyDomain(_ request: StoreV1.VerifyDomainRequest, _ context: RPCContext) async throws
        -> StoreV1.VerifyDomainResponse
    {
        let account = try context.requireAccountID()
        let domain = try Self.domainName(request.domain)
        guard var record = try await engine.domains(accountID: account).first(where: { $0.domain == domain }) else {
            throw RPCError.notFound("no domain \(domain) on this account: add it first")
        }
        if record.status != .verified {
            let name = "_harepost-challenge.\(domain)"
            let found: [String]
            do {
                found = try await configuration.dnsResolver.txtRecords(name)
            } catch DNSTXTResolver.LookupError.resolverUnavailable(let reason) {
                throw RPCError.unavailable("cannot look up \(name): \(reason)")
            }
            guard found.contains("harepost-verify=\(record.token)") else {
                throw RPCError(.aborted, "TXT record \(name) with value harepost-verify=\(record.token) not found yet")
            }
            record = try await engine.markDomainVerified(accountID: account, domain: domain, now: now)
            context.logger.info("domain verified", metadata: ["account.id": "\(account)", "domain": "\(domain)"])
        }
        var response = StoreV1.VerifyDomainResponse()
        response.domain = record.domain
        response.status = record.status
        response.verifiedAt = record.verifiedAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
        return response
    }

    func listDomains(_ request: StoreV1.ListDomainsRequest, _ context: RPCContext) async throws
        -> StoreV1.ListDomainsResponse
    {
        let records = try await engine.domains(accountID: try context.requireAccountID())
        var response = StoreV1.ListDomainsResponse()
        response.data = records.map { record in
            var domain = StoreV1.Domain()
            domain.domain = record.domain
            domain.status = record.status
            domain.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: record.createdAt)
            domain.verifiedAt = record.verifiedAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
            return domain
        }
        return response
    }

    /// A lower-case DNS name with at least two labels, or INVALID_ARGUMENT.
    static func domainName(_ text: String) throws(RPCError) -> String {
        let domain = text.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.utf8.count <= 253,
            labels.allSatisfy({ label in
                (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                    && label.utf8.allSatisfy {
                        (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "-")
                    }
            })
        else { throw .invalidArgument("domain must be a DNS name such as your-app.com") }
        return domain
    }

    // MARK: Send

    /// Validates the send on the connection's event loop, runs the address and
    /// domain checks when they apply (they may wait: DNS, a read), and answers
    /// from the group commit's completion: no task per send when no check
    /// applies.
    func send(_ request: StoreV1.SendRequest, _ context: RPCContext, _ answer: RPCPromise<StoreV1.SendResponse>) {
        let delivery: NewDelivery
        let target: SendValidation.Target
        do {
            let tenant = try tenant(context)
            target = try SendValidation.target(request.target, allowHTTP: configuration.allowHTTP)
            let method = try SendValidation.method(request)
            let (headers, body) = try SendValidation.headersAndBody(request, method: method)
            delivery = NewDelivery(
                queueID: StoreIdentifiers.timeOrdered(StoreIdentifiers.deliveryPrefix),
                tenant: tenant,
                target: target.url,
                method: method,
                headers: headers,
                body: body,
                metadataJSON: request.metadata.map {
                    String(decoding: ProtoJSON.encodeBytes($0.protoMessage), as: UTF8.self)
                },
                sign: request.sign,
                idempotencyKey: try SendValidation.idempotencyKey(request),
                policy: SendValidation.resolvePolicy(request.delivery),
                destinationOrigin: target.origin,
                destinationName: target.origin,
                connectionName: target.host,
                createdAt: now,
                requestID: context.requestID
            )
        } catch {
            answer.fail(error)
            return
        }
        let engine = self.engine
        let due = self.due
        let health = self.health
        let eventLoop = answer.eventLoop
        // The commit completes the call's promise with the answer itself.
        let insert: @Sendable () -> Void = {
            engine.insert(delivery, on: eventLoop) { result in
                if case .success = result { health.succeeded() }
                answer.complete(
                    with: result.map { record, created in Self.sendResponse(record, created: created, due: due, context)
                    }
                    .mapError { error in status(of: error, context) }
                )
            }
        }
        if configuration.allowPrivateTargets && configuration.trustAllDomains {
            insert()
        } else {
            eventLoop.makeFutureWithTask {
                try await checkTargetAddress(target)
                try await checkDomainVerified(target, accountID: delivery.tenant.accountID)
            }.whenComplete { checked in
                switch checked {
                case .success: insert()
                case .failure(let error): answer.fail(error)
                }
            }
        }
    }

    /// The answer to a stored (or, by its idempotency key, found) send.
    private static func sendResponse(
        _ record: DeliveryRecord,
        created: Bool,
        due: DueSignal,
        _ context: RPCContext
    ) -> StoreV1.SendResponse {
        if created {
            due.notify()
            if context.logLevel <= .debug {
                context.logger.debug("delivery queued", metadata: ["delivery.id": "\(record.queueID)"])
            }
        }
        var response = StoreV1.SendResponse()
        response.queueID = record.queueID
        response.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: record.createdAt)
        response.idempotencyKey = record.idempotencyKey
        response.status = record.status
        return response
    }

    /// Refuses targets that are, or resolve to, internal addresses.
    private func checkTargetAddress(_ target: SendValidation.Target) async throws {
        guard !configuration.allowPrivateTargets else { return }
        let host = target.host
        let addresses = try await NIOThreadPool.singleton.runIfActive { TargetAddressPolicy.resolve(host) }
        guard let addresses, !addresses.isEmpty else {
            throw RPCError.invalidArgument("target host \(host) does not resolve")
        }
        if let blocked = addresses.first(where: TargetAddressPolicy.isInternal) {
            throw RPCError.invalidArgument("target resolves to a private, loopback or link-local address (\(blocked))")
        }
    }

    /// A target's host must be a verified domain of the account or under one.
    private func checkDomainVerified(_ target: SendValidation.Target, accountID: String) async throws {
        guard !configuration.trustAllDomains else { return }
        let verified = try await engine.domains(accountID: accountID).filter { $0.status == .verified }.map(\.domain)
        let host = target.host
        guard verified.contains(where: { host == $0 || host.hasSuffix("." + $0) }) else {
            throw RPCError.permissionDenied(
                "the target's domain \(host) is not verified: add it with POST /v1/domains and verify it"
            )
        }
    }
}
