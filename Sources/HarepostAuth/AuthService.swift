import Foundation
import HarepostProto
public import HarepostRPC
import HarepostSQLite
public import HarepostTime
import Logging

/// The `harepost.auth.v1.Auth` service: accounts, API keys and signing secrets.
public struct AuthService: Sendable {
    public struct Configuration: Sendable {
        /// Requests per minute for new accounts; 0 means unlimited.
        public var defaultRateLimitPerMinute: Int
        /// How long a rotated-out signing secret stays valid unless the call says otherwise.
        public var signingSecretOverlapSeconds: Int64
        /// Whether `POST /v1/accounts` (CreateAccount on behalf of a public client) is allowed.
        public var openSignup: Bool
        /// `last_used_at` is written at most this often per key, so authentication
        /// stays a read.
        public var lastUsedResolutionMilliseconds: Int64
        /// The time of day: creation and use times, signing-secret overlaps.
        public var clock: any WallClock

        public init(
            defaultRateLimitPerMinute: Int = 6000,
            signingSecretOverlapSeconds: Int64 = 86_400,
            openSignup: Bool = false,
            lastUsedResolutionMilliseconds: Int64 = 60_000,
            clock: any WallClock = SystemWallClock()
        ) {
            self.defaultRateLimitPerMinute = defaultRateLimitPerMinute
            self.signingSecretOverlapSeconds = signingSecretOverlapSeconds
            self.openSignup = openSignup
            self.lastUsedResolutionMilliseconds = lastUsedResolutionMilliseconds
            self.clock = clock
        }
    }

    public static let maximumNameLength = 200
    public static let maximumOverlapSeconds: Int64 = 30 * 86_400
    public static let maximumRateLimitPerMinute = 1_000_000_000

    let database: AuthDatabase
    let configuration: Configuration
    let health: StorageHealth

    public init(database: AuthDatabase, configuration: Configuration = Configuration()) {
        self.database = database
        self.configuration = configuration
        self.health = StorageHealth(
            classify: { SQLiteFailure.storageReason($0) },
            probe: { try await database.probeWrite() }
        )
    }

    /// A router serving every method of `harepost.auth.v1.Auth`.
    public func router() throws -> RPCRouter {
        var router = RPCRouter()
        let methods: [(String, @Sendable (AuthService, ProtoMessage, RPCContext) async throws -> ProtoMessage)] = [
            ("CreateAccount", { try await $0.createAccount($1, $2) }),
            ("CreateApiKey", { try await $0.createAPIKey($1, $2) }),
            ("ListApiKeys", { try await $0.listAPIKeys($1, $2) }),
            ("RevokeApiKey", { try await $0.revokeAPIKey($1, $2) }),
            ("Authenticate", { try await $0.authenticate($1, $2) }),
            ("GetSigningSecret", { try await $0.getSigningSecret($1, $2) }),
            ("ListSigningSecrets", { try await $0.listSigningSecrets($1, $2) }),
            ("RotateSigningSecret", { try await $0.rotateSigningSecret($1, $2) }),
            ("SetRateLimit", { try await $0.setRateLimit($1, $2) }),
        ]
        for (name, method) in methods {
            try router.register("harepost.auth.v1.Auth/\(name)") { request, context in
                do {
                    return try await method(self, request, context)
                } catch AuthDatabaseError.accountNotFound {
                    throw RPCError.notFound("no account \(context.metadata[RPCMetadataKey.accountID] ?? "")")
                } catch {
                    // A full or failing disk is UNAVAILABLE (logged once), not INTERNAL.
                    throw self.health.status(for: error, logger: context.logger) ?? error
                }
            }
        }
        let health = self.health
        router.isServing = { health.isServing() }
        return router
    }

    private var now: Int64 { configuration.clock.unixMilliseconds }

    // MARK: Accounts

    func createAccount(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        if context.isPublicOrigin && !configuration.openSignup {
            throw RPCError.permissionDenied("sign-up is closed: ask the operator for an account")
        }
        let name = (request.string("name") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw RPCError.invalidArgument("name must not be empty") }
        // SQLite's text binding (through GRDB) ends a string at U+0000.
        guard !name.utf8.contains(0) else { throw RPCError.invalidArgument("name must not contain U+0000") }
        guard name.count <= Self.maximumNameLength else {
            throw RPCError.invalidArgument("name must be at most \(Self.maximumNameLength) characters")
        }
        let key = APIKey.generate(environment(request, default: .live))
        let secret = Credentials.signingSecret()
        let now = self.now
        let (account, _) = try await database.createAccount(
            name: name,
            rateLimitPerMinute: configuration.defaultRateLimitPerMinute,
            firstKey: key,
            signingSecret: secret,
            now: now
        )
        context.logger.info("account created", metadata: ["account.id": "\(account.id)"])
        return try ProtoMessage(
            "harepost.auth.v1.CreateAccountResponse",
            [
                "id": .string(account.id), "name": .string(account.name), "api_key": .string(key.plaintext),
                "signing_secret": .string(secret), "created_at": .timestamp(unixMilliseconds: now),
            ]
        )
    }

    func setRateLimit(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let limit = request.int64("rate_limit_per_minute") ?? 0
        guard (0...Int64(Self.maximumRateLimitPerMinute)).contains(limit) else {
            throw RPCError.invalidArgument(
                "rate_limit_per_minute must be between 0 (unlimited) and \(Self.maximumRateLimitPerMinute)"
            )
        }
        try await database.setRateLimit(accountID: account, perMinute: Int(limit))
        return try ProtoMessage(
            "harepost.auth.v1.SetRateLimitResponse",
            ["rate_limit_per_minute": .int32(Int32(limit))]
        )
    }

    // MARK: API keys

    func createAPIKey(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let callerEnvironment = context.metadata[RPCMetadataKey.environment].flatMap(Environment.init(rawValue:))
        let key = APIKey.generate(environment(request, default: callerEnvironment ?? .live))
        let record = try await database.createKey(key, accountID: account, now: now)
        context.logger.info("api key created", metadata: ["account.id": "\(account)", "key.id": "\(record.id)"])
        return try ProtoMessage(
            "harepost.auth.v1.CreateApiKeyResponse",
            ["api_key": .string(key.plaintext), "key": .message(try Self.message(record))]
        )
    }

    func listAPIKeys(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let records = try await database.listKeys(accountID: try context.requireAccountID())
        var response = try ProtoMessage("harepost.auth.v1.ListApiKeysResponse")
        try response.set("data", values: records.map { .message(try Self.message($0)) })
        return response
    }

    func revokeAPIKey(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let id = request.string("id") ?? ""
        guard Self.isKeyID(id) else {
            throw RPCError.invalidArgument("id must be an API key id like key_0123456789abcdef01234567")
        }
        do {
            let record = try await database.revokeKey(id: id, accountID: account, now: now)
            context.logger.info("api key revoked", metadata: ["account.id": "\(account)", "key.id": "\(id)"])
            return try ProtoMessage(
                "harepost.auth.v1.RevokeApiKeyResponse",
                ["key": .message(try Self.message(record))]
            )
        } catch AuthDatabaseError.keyNotFound {
            throw RPCError.notFound("no API key \(id)")
        }
    }

    /// One indexed read; a write only when `last_used_at` is older than the resolution.
    func authenticate(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        guard let key = APIKey(parsing: request.string("api_key") ?? ""),
            let (principal, lastUsedAt) = try await database.principal(forKeyHash: key.hash)
        else {
            throw RPCError.unauthenticated("invalid API key")
        }
        let now = self.now
        if now - (lastUsedAt ?? 0) >= configuration.lastUsedResolutionMilliseconds {
            // Bookkeeping: failing to record use must not fail the authentication.
            do {
                try await database.recordUse(ofKey: principal.keyID, at: now)
                health.succeeded()
            } catch {
                // A storage failure is logged once by `health`, not per request.
                if health.status(for: error, logger: context.logger) == nil {
                    context.logger.warning(
                        "cannot record API key use",
                        metadata: ["key.id": "\(principal.keyID)", "error": "\(error)"]
                    )
                }
            }
        }
        var response = try ProtoMessage(
            "harepost.auth.v1.AuthenticateResponse",
            [
                "account_id": .string(principal.accountID),
                "rate_limit_per_minute": .int32(Int32(clamping: principal.rateLimitPerMinute)),
                "key_id": .string(principal.keyID),
            ]
        )
        try response.set("environment", enumName: principal.environment.rawValue)
        return response
    }

    // MARK: Signing secrets

    func getSigningSecret(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let secrets = try await database.signingSecrets(accountID: try context.requireAccountID(), now: now)
        return try ProtoMessage(
            "harepost.auth.v1.GetSigningSecretResponse",
            ["signing_secret": .string(secrets.current)]
        )
    }

    func listSigningSecrets(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let secrets = try await database.signingSecrets(accountID: try context.requireAccountID(), now: now)
        var response = try ProtoMessage(
            "harepost.auth.v1.ListSigningSecretsResponse",
            ["signing_secret": .string(secrets.current)]
        )
        try response.set(
            "previous",
            values: try secrets.previous.map { previous in
                .message(
                    try ProtoMessage(
                        "harepost.auth.v1.PreviousSigningSecret",
                        [
                            "signing_secret": .string(previous.secret),
                            "valid_until": .timestamp(unixMilliseconds: previous.validUntil),
                        ]
                    )
                )
            }
        )
        return response
    }

    func rotateSigningSecret(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let account = try context.requireAccountID()
        let overlap = request.int64("overlap_seconds") ?? configuration.signingSecretOverlapSeconds
        guard (0...Self.maximumOverlapSeconds).contains(overlap) else {
            throw RPCError.invalidArgument("overlap_seconds must be between 0 and \(Self.maximumOverlapSeconds)")
        }
        let secret = Credentials.signingSecret()
        let validUntil = try await database.rotateSigningSecret(
            accountID: account,
            to: secret,
            overlapMilliseconds: overlap * 1000,
            now: now
        )
        context.logger.info(
            "signing secret rotated",
            metadata: ["account.id": "\(account)", "overlap.seconds": "\(overlap)"]
        )
        return try ProtoMessage(
            "harepost.auth.v1.RotateSigningSecretResponse",
            ["signing_secret": .string(secret), "previous_valid_until": .timestamp(unixMilliseconds: validUntil)]
        )
    }

    // MARK: Helpers

    /// The request's `environment`, or `fallback` when it is unspecified.
    private func environment(_ request: ProtoMessage, default fallback: Environment) -> Environment {
        request.enumName("environment").flatMap(Environment.init(rawValue:)) ?? fallback
    }

    static func isKeyID(_ id: String) -> Bool {
        let utf8 = Array(id.utf8)
        return utf8.count == 28 && id.hasPrefix("key_")
            && utf8.dropFirst(4).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func message(_ record: APIKeyRecord) throws -> ProtoMessage {
        var key = try ProtoMessage(
            "harepost.auth.v1.ApiKey",
            [
                "id": .string(record.id), "prefix": .string(record.prefix),
                "created_at": .timestamp(unixMilliseconds: record.createdAt),
                "last_used_at": record.lastUsedAt.map { .timestamp(unixMilliseconds: $0) },
                "revoked_at": record.revokedAt.map { .timestamp(unixMilliseconds: $0) },
            ]
        )
        try key.set("environment", enumName: record.environment.rawValue)
        return key
    }
}
