import Foundation
import HarepostJSON
import HarepostNetworkPolicy
import HarepostProto
public import HarepostRPC
public import HarepostTime
import Logging
import NIOCore
import NIOPosix

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

    /// A store on the embedded SQLite engine at `path`.
    public init(sqlitePath path: String, configuration: Configuration = Configuration()) throws {
        self.engine = try SQLiteEngine(path: path)
        self.configuration = configuration
        let engine = self.engine
        self.health = StorageHealth(classify: { engine.storageFailure($0) }, probe: { try await engine.probeWrite() })
    }

    public func router() throws -> RPCRouter {
        var router = RPCRouter()
        let methods: [(String, @Sendable (StoreService, ProtoMessage, RPCContext) async throws -> ProtoMessage)] = [
            ("AddDomain", { try await $0.addDomain($1, $2) }),
            ("VerifyDomain", { try await $0.verifyDomain($1, $2) }),
            ("ListDomains", { try await $0.listDomains($1, $2) }),
            ("RetryDelivery", { try await $0.retryDelivery($1, $2) }),
            ("ListDeliveryAttempts", { try await $0.listDeliveryAttempts($1, $2) }),
            ("ClaimDue", { try await $0.claimDue($1, $2) }),
            ("RecordAttempt", { try await $0.recordAttempt($1, $2) }),
        ]
        for (name, method) in methods {
            try router.register("harepost.store.v1.Store/\(name)") { request, context in
                do {
                    return try await method(self, request, context)
                } catch {
                    throw status(of: error, context)
                }
            }
        }
        // Point reads: answered on the connection's event loop, no task.
        let immediate: [(String, @Sendable (StoreService, ProtoMessage, RPCContext) throws -> ProtoMessage)] = [
            ("GetDelivery", { try $0.getDelivery($1, $2) }),
            ("ListDeliveries", { try $0.listDeliveries($1, $2) }),
        ]
        for (name, method) in immediate {
            try router.register(
                "harepost.store.v1.Store/\(name)",
                immediate: { request, context in
                    do {
                        return try method(self, request, context)
                    } catch {
                        throw status(of: error, context)
                    }
                }
            )
        }
        // Sends: validated on the event loop, answered from the group commit
        // (storage errors already mapped to statuses: no second future).
        try router.register(
            "harepost.store.v1.Store/Send",
            future: { request, context, eventLoop in send(request, context, on: eventLoop) }
        )
        let health = self.health
        router.isServing = { health.isServing() }
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
        guard environment == "live" || environment == "test" else {
            throw .invalidArgument(
                "environment must be live or test (lower case), not \"\(environment)\""
            )
        }
        return Tenant(accountID: account, environment: environment)
    }

    // MARK: Domains

    func addDomain(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let domain = try Self.domainName(request.string("domain") ?? "")
        let record = try await engine.addDomain(
            accountID: account,
            domain: domain,
            token: StoreIdentifiers.random("hv"),
            now: now
        )
        var response = try ProtoMessage("harepost.store.v1.AddDomainResponse", ["domain": .string(record.domain)])
        try response.set("status", enumName: record.status)
        try response.set(
            "record",
            .message(
                try ProtoMessage(
                    "harepost.store.v1.DnsRecord",
                    [
                        "type": .string("TXT"), "name": .string("_harepost-challenge.\(record.domain)"),
                        "value": .string("harepost-verify=\(record.token)"),
                    ]
                )
            )
        )
        return response
    }

    /// Looks the challenge TXT record up in DNS; ABORTED (HTTP 409) until it is there.
    func verifyDomain(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let domain = try Self.domainName(request.string("domain") ?? "")
        guard var record = try await engine.domains(accountID: account).first(where: { $0.domain == domain }) else {
            throw RPCError.notFound("no domain \(domain) on this account: add it first")
        }
        if record.status != "verified" {
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
        var response = try ProtoMessage(
            "harepost.store.v1.VerifyDomainResponse",
            [
                "domain": .string(record.domain),
                "verified_at": record.verifiedAt.map { .timestamp(unixMilliseconds: $0) },
            ]
        )
        try response.set("status", enumName: record.status)
        return response
    }

    func listDomains(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let records = try await engine.domains(accountID: try context.requireAccountID())
        var response = try ProtoMessage("harepost.store.v1.ListDomainsResponse")
        try response.set(
            "data",
            values: try records.map { record in
                var domain = try ProtoMessage(
                    "harepost.store.v1.Domain",
                    [
                        "domain": .string(record.domain), "created_at": .timestamp(unixMilliseconds: record.createdAt),
                        "verified_at": record.verifiedAt.map { .timestamp(unixMilliseconds: $0) },
                    ]
                )
                try domain.set("status", enumName: record.status)
                return .message(domain)
            }
        )
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
    func send(_ request: ProtoMessage, _ context: RPCContext, on eventLoop: any EventLoop) -> EventLoopFuture<
        ProtoMessage
    > {
        let delivery: NewDelivery
        let target: SendValidation.Target
        do {
            let tenant = try tenant(context)
            target = try SendValidation.target(request.string("target") ?? "", allowHTTP: configuration.allowHTTP)
            let method = try SendValidation.method(request)
            let (headers, body) = try SendValidation.headersAndBody(request, method: method)
            delivery = NewDelivery(
                queueID: StoreIdentifiers.timeOrdered("hr"),
                tenant: tenant,
                target: target.url,
                method: method,
                headers: headers,
                body: body,
                metadataJSON: request.message("metadata").map {
                    String(decoding: ProtoJSON.encodeBytes($0), as: UTF8.self)
                },
                sign: request.bool("sign") ?? false,
                idempotencyKey: try SendValidation.idempotencyKey(request),
                policy: SendValidation.resolvePolicy(request.message("delivery")),
                destinationOrigin: target.origin,
                destinationName: target.origin,
                connectionName: target.host,
                createdAt: now,
                requestID: context.requestID
            )
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let engine = self.engine
        let due = self.due
        let health = self.health
        // One promise, completed by the commit with the answer itself.
        let answered = eventLoop.makePromise(of: ProtoMessage.self)
        let insert: @Sendable () -> Void = {
            engine.insert(delivery, on: eventLoop) { result in
                if case .success = result { health.succeeded() }
                answered.completeWith(
                    result.flatMap { record, created in
                        Result { try Self.sendResponse(record, created: created, due: due, context) }
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
                case .failure(let error): answered.fail(error)
                }
            }
        }
        return answered.futureResult
    }

    /// The answer to a stored (or, by its idempotency key, found) send.
    private static func sendResponse(
        _ record: DeliveryRecord,
        created: Bool,
        due: DueSignal,
        _ context: RPCContext
    ) throws -> ProtoMessage {
        if created {
            due.notify()
            if context.logLevel <= .debug {
                context.logger.debug("delivery queued", metadata: ["delivery.id": "\(record.queueID)"])
            }
        }
        let fields = SendResponseFields.self
        var response = ProtoMessage(fields.descriptor)
        try response.set(fields.queueID, .string(record.queueID))
        try response.set(fields.createdAt, .timestamp(unixMilliseconds: record.createdAt))
        if let key = record.idempotencyKey { try response.set(fields.idempotencyKey, .string(key)) }
        guard let status = fields.status.enumType?.value(jsonName: record.status) else {
            throw RPCError(.internal, "delivery \(record.queueID) has an unknown status")
        }
        try response.set(fields.status, .enumValue(status.number))
        return response
    }

    /// The answer's type and fields, looked up once instead of by name on
    /// every send.
    private enum SendResponseFields {
        static let descriptor = MessageDescriptor.named("harepost.store.v1.SendResponse")!  // compiled into every build
        static let queueID = descriptor.field(named: "queue_id")!
        static let createdAt = descriptor.field(named: "created_at")!
        static let idempotencyKey = descriptor.field(named: "idempotency_key")!
        static let status = descriptor.field(named: "status")!
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
        let verified = try await engine.domains(accountID: accountID).filter { $0.status == "verified" }.map(\.domain)
        let host = target.host
        guard verified.contains(where: { host == $0 || host.hasSuffix("." + $0) }) else {
            throw RPCError.permissionDenied(
                "the target's domain \(host) is not verified: add it with POST /v1/domains and verify it"
            )
        }
    }
}
