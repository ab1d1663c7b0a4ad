import Foundation
import HarepostContracts
public import HarepostPostgres
import HarepostProto
public import HarepostRPC
public import HarepostTime
public import Logging
public import ServiceLifecycle

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

    let storage: any AuthStorage
    let configuration: Configuration
    let health: StorageHealth

    /// What runs beside the RPC server for as long as auth serves (the
    /// PostgreSQL pool); start it before the server.
    public let backgroundServices: [any Service]

    /// Auth on the embedded SQLite database at `path`.
    public init(sqlitePath path: String, configuration: Configuration = Configuration()) throws {
        self.init(storage: try SQLiteAuthStorage(path: path), configuration: configuration, backgroundServices: [])
    }

    /// Auth's schema steps, for the ``PostgresBackend`` it runs on.
    public static let postgresMigrations = PostgresAuthStorage.migrations

    /// Auth on PostgreSQL: several auths (and stores) may share the database.
    public init(postgres database: PostgresBackend, configuration: Configuration = Configuration(), logger: Logger) {
        self.init(
            storage: PostgresAuthStorage(database: database, logger: logger),
            configuration: configuration,
            backgroundServices: [database]
        )
    }

    init(storage: any AuthStorage, configuration: Configuration, backgroundServices: [any Service]) {
        self.storage = storage
        self.configuration = configuration
        self.backgroundServices = backgroundServices
        self.health = StorageHealth(
            classify: { storage.storageFailure($0) },
            probe: { try await storage.probeWrite() }
        )
    }

    /// A router serving every method of `harepost.auth.v1.Auth`.
    public func router() throws -> RPCRouter {
        typealias Auth = AuthV1.Auth
        typealias Method<M: RPCMethodContract> =
            @Sendable (AuthService) -> (M.Input, RPCContext) async throws -> M.Output
        var router = RPCRouter()
        func register<M: RPCMethodContract>(_ method: M.Type, _ handler: @escaping Method<M>) throws {
            try router.register(method) { request, context in
                do {
                    return try await handler(self)(request, context)
                } catch AuthStorageError.accountNotFound {
                    throw RPCError.notFound("no account \(context.metadata[RPCMetadataKey.accountID] ?? "")")
                } catch {
                    // A full or failing disk is UNAVAILABLE (logged once), not INTERNAL.
                    throw self.health.status(for: error, logger: context.logger) ?? error
                }
            }
        }
        try register(Auth.CreateAccount.self, AuthService.createAccount)
        try register(Auth.CreateApiKey.self, AuthService.createAPIKey)
        try register(Auth.ListApiKeys.self, AuthService.listAPIKeys)
        try register(Auth.RevokeApiKey.self, AuthService.revokeAPIKey)
        try register(Auth.Authenticate.self, AuthService.authenticate)
        try register(Auth.GetSigningSecret.self, AuthService.getSigningSecret)
        try register(Auth.ListSigningSecrets.self, AuthService.listSigningSecrets)
        try register(Auth.RotateSigningSecret.self, AuthService.rotateSigningSecret)
        try register(Auth.SetRateLimit.self, AuthService.setRateLimit)
        let health = self.health
        let storage = self.storage
        router.isServing = { storage.isReady && health.isServing() }
        return router
    }

    private var now: Int64 { configuration.clock.unixMilliseconds }

    // MARK: Accounts

    func createAccount(_ request: AuthV1.CreateAccountRequest, _ context: RPCContext) async throws
        -> AuthV1.CreateAccountResponse
    {
        if context.isPublicOrigin && !configuration.openSignup {
            throw RPCError.permissionDenied("sign-up is closed: ask the operator for an account")
        }
        let name = request.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw RPCError.invalidArgument("name must not be empty") }
        // SQLite's text binding (through GRDB) ends a string at U+0000.
        guard !name.utf8.contains(0) else { throw RPCError.invalidArgument("name must not contain U+0000") }
        guard name.count <= Self.maximumNameLength else {
            throw RPCError.invalidArgument("name must be at most \(Self.maximumNameLength) characters")
        }
        let key = APIKey.generate(Environment(request.environment) ?? .live)
        let secret = Credentials.signingSecret()
        let now = self.now
        let (account, _) = try await storage.createAccount(
            name: name,
            rateLimitPerMinute: configuration.defaultRateLimitPerMinute,
            firstKey: key,
            signingSecret: secret,
            now: now
        )
        context.logger.info("account created", metadata: ["account.id": "\(account.id)"])
        var response = AuthV1.CreateAccountResponse()
        response.id = account.id
        response.name = account.name
        response.apiKey = key.plaintext
        response.signingSecret = secret
        response.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: now)
        return response
    }

    func setRateLimit(_ request: AuthV1.SetRateLimitRequest, _ context: RPCContext) async throws
        -> AuthV1.SetRateLimitResponse
    {
        let account = try context.requireAccountID()
        let limit = request.rateLimitPerMinute
        guard (0...Int64(Self.maximumRateLimitPerMinute)).contains(Int64(limit)) else {
            throw RPCError.invalidArgument(
                "rate_limit_per_minute must be between 0 (unlimited) and \(Self.maximumRateLimitPerMinute)"
            )
        }
        try await storage.setRateLimit(accountID: account, perMinute: Int(limit))
        var response = AuthV1.SetRateLimitResponse()
        response.rateLimitPerMinute = limit
        return response
    }

    // MARK: API keys

    func createAPIKey(_ request: AuthV1.CreateApiKeyRequest, _ context: RPCContext) async throws
        -> AuthV1.CreateApiKeyResponse
    {
        let account = try context.requireAccountID()
        let callerEnvironment = context.metadata[RPCMetadataKey.environment].flatMap(Environment.init(rawValue:))
        let key = APIKey.generate(Environment(request.environment) ?? callerEnvironment ?? .live)
        let record = try await storage.createKey(key, accountID: account, now: now)
        context.logger.info("api key created", metadata: ["account.id": "\(account)", "key.id": "\(record.id)"])
        var response = AuthV1.CreateApiKeyResponse()
        response.apiKey = key.plaintext
        response.key = Self.message(record)
        return response
    }

    func listAPIKeys(_ request: AuthV1.ListApiKeysRequest, _ context: RPCContext) async throws
        -> AuthV1.ListApiKeysResponse
    {
        let records = try await storage.listKeys(accountID: try context.requireAccountID())
        var response = AuthV1.ListApiKeysResponse()
        response.data = records.map(Self.message)
        return response
    }

    func revokeAPIKey(_ request: AuthV1.RevokeApiKeyRequest, _ context: RPCContext) async throws
        -> AuthV1.RevokeApiKeyResponse
    {
        let account = try context.requireAccountID()
        let id = request.id
        guard Self.isKeyID(id) else {
            throw RPCError.invalidArgument("id must be an API key id like key_0123456789abcdef01234567")
        }
        do {
            let record = try await storage.revokeKey(id: id, accountID: account, now: now)
            context.logger.info("api key revoked", metadata: ["account.id": "\(account)", "key.id": "\(id)"])
            var response = AuthV1.RevokeApiKeyResponse()
            response.key = Self.message(record)
            return response
        } catch AuthStorageError.keyNotFound {
            throw RPCError.notFound("no API key \(id)")
        }
    }

    /// One indexed read; a write only when `last_used_at` is older than the resolution.
    func authenticate(_ request: AuthV1.AuthenticateRequest, _ context: RPCContext) async throws
        -> AuthV1.AuthenticateResponse
    {
        guard let key = APIKey(parsing: request.apiKey),
            let (principal, lastUsedAt) = try await storage.principal(forKeyHash: key.hash)
        else {
            throw RPCError.unauthenticated("invalid API key")
        }
        let now = self.now
        if now - (lastUsedAt ?? 0) >= configuration.lastUsedResolutionMilliseconds {
            // Bookkeeping: failing to record use must not fail the authentication.
            do {
                try await storage.recordUse(ofKey: principal.keyID, at: now)
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
        var response = AuthV1.AuthenticateResponse()
        response.accountID = principal.accountID
        response.environment = principal.environment.contract
        response.rateLimitPerMinute = Int32(clamping: principal.rateLimitPerMinute)
        response.keyID = principal.keyID
        return response
    }

    // MARK: Signing secrets

    func getSigningSecret(_ request: AuthV1.GetSigningSecretRequest, _ context: RPCContext) async throws
        -> AuthV1.GetSigningSecretResponse
    {
        let secrets = try await storage.signingSecrets(accountID: try context.requireAccountID(), now: now)
        var response = AuthV1.GetSigningSecretResponse()
        response.signingSecret = secrets.current
        return response
    }

    func listSigningSecrets(_ request: AuthV1.ListSigningSecretsRequest, _ context: RPCContext) async throws
        -> AuthV1.ListSigningSecretsResponse
    {
        let secrets = try await storage.signingSecrets(accountID: try context.requireAccountID(), now: now)
        var response = AuthV1.ListSigningSecretsResponse()
        response.signingSecret = secrets.current
        response.previous = secrets.previous.map { previous in
            var entry = AuthV1.PreviousSigningSecret()
            entry.signingSecret = previous.secret
            entry.validUntil = GoogleProtobuf.Timestamp(unixMilliseconds: previous.validUntil)
            return entry
        }
        return response
    }

    func rotateSigningSecret(_ request: AuthV1.RotateSigningSecretRequest, _ context: RPCContext) async throws
        -> AuthV1.RotateSigningSecretResponse
    {
        let account = try context.requireAccountID()
        let overlap = request.overlapSeconds ?? configuration.signingSecretOverlapSeconds
        guard (0...Self.maximumOverlapSeconds).contains(overlap) else {
            throw RPCError.invalidArgument("overlap_seconds must be between 0 and \(Self.maximumOverlapSeconds)")
        }
        let secret = Credentials.signingSecret()
        let validUntil = try await storage.rotateSigningSecret(
            accountID: account,
            to: secret,
            overlapMilliseconds: overlap * 1000,
            now: now
        )
        context.logger.info(
            "signing secret rotated",
            metadata: ["account.id": "\(account)", "overlap.seconds": "\(overlap)"]
        )
        var response = AuthV1.RotateSigningSecretResponse()
        response.signingSecret = secret
        response.previousValidUntil = GoogleProtobuf.Timestamp(unixMilliseconds: validUntil)
        return response
    }

    // MARK: Helpers

    static func isKeyID(_ id: String) -> Bool {
        let utf8 = Array(id.utf8)
        return utf8.count == 28 && id.hasPrefix("key_")
            && utf8.dropFirst(4).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func message(_ record: APIKeyRecord) -> AuthV1.ApiKey {
        var key = AuthV1.ApiKey()
        key.id = record.id
        key.prefix = record.prefix
        key.environment = record.environment.contract
        key.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: record.createdAt)
        key.lastUsedAt = record.lastUsedAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
        key.revokedAt = record.revokedAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
        return key
    }
}

extension Environment {
    /// The environment as the contracts name it.
    var contract: AuthV1.Environment {
        switch self {
        case .live: .live
        case .test: .test
        }
    }

    /// `nil` for an unspecified (or unknown) environment.
    init?(_ contract: AuthV1.Environment) {
        switch contract {
        case .live: self = .live
        case .test: self = .test
        case .unspecified, .unrecognized: return nil
        }
    }
}
