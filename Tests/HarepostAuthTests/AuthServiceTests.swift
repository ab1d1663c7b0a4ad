import Foundation
import GRDB
import HarepostPostgres
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Logging
import ServiceLifecycle
import Testing

@testable import HarepostAuth

/// A real auth service on a real Unix socket: on a SQLite file in a temp
/// dir, or on a throwaway PostgreSQL server.
struct AuthHarness {
    let directory: String
    let client: RPCClient
    /// The PostgreSQL server auth runs on, when it does.
    var postgres: PostgresServer? = nil

    var databasePath: String { "\(directory)/auth.sqlite" }

    /// The storage engines the service tests run on, each in turn.
    enum Engine: CaseIterable {
        case sqlite, postgres
    }

    /// Runs `body` against a fresh auth on each engine and returns the last answer.
    static func withService<T: Sendable>(
        configuration: AuthService.Configuration = .init(),
        engines: [Engine] = Engine.allCases,
        _ body: @Sendable (AuthHarness) async throws -> T
    ) async throws -> T {
        var result: T?
        for engine in engines {
            switch engine {
            case .sqlite:
                result = try await withService(configuration: configuration, directory: nil, body)
            case .postgres:
                result = try await PostgresServer.with { server in
                    try await withService(configuration: configuration, on: server, body)
                }
            }
        }
        return result!
    }

    /// Auth on a SQLite file in `directory` (a new temp dir when nil).
    static func withService<T: Sendable>(
        configuration: AuthService.Configuration = .init(),
        directory existing: String?,
        _ body: @Sendable (AuthHarness) async throws -> T
    ) async throws -> T {
        try await withRPCService(component: "auth", directory: existing) { directory in
            try AuthService(sqlitePath: "\(directory)/auth.sqlite", configuration: configuration).router()
        } _: { directory, client in
            try await body(AuthHarness(directory: directory, client: client))
        }
    }

    /// Auth on `server`'s database (beside other auths, when the caller runs several).
    static func withService<T: Sendable>(
        configuration: AuthService.Configuration = .init(),
        on server: PostgresServer,
        _ body: @Sendable (AuthHarness) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "harepost.auth.tests")
        logger.logLevel = .critical
        let backend = try PostgresBackend(
            settings: PostgresSettings(url: server.url(), password: nil),
            component: "auth",
            migrations: AuthService.postgresMigrations,
            connectionWait: .seconds(60),
            logger: logger
        )
        let service = AuthService(postgres: backend, configuration: configuration, logger: logger)
        return try await withRPCService(
            component: "auth",
            background: service.backgroundServices,
            ready: backend.ready,
            router: try service.router()
        ) { directory, client in
            try await body(AuthHarness(directory: directory, client: client, postgres: server))
        }
    }

    /// The first column of the first row `sql` selects, as text, from whichever database auth runs on.
    func scalar(_ sql: String) async throws -> String? {
        if let postgres { return try await postgres.psql(sql) }
        return try await DatabaseQueue(path: databasePath).read { db in try String.fetchOne(db, sql: sql) }
    }

    func call(_ method: String, _ request: ProtoMessage, account: String? = nil, metadata: [String: String] = [:])
        async throws(RPCError) -> ProtoMessage
    {
        var metadata = metadata
        if let account { metadata[RPCMetadataKey.accountID] = account }
        return try await client.call("harepost.auth.v1.Auth/\(method)", request, options: .init(metadata: metadata))
    }

    func createAccount(_ name: String = "Acme", environment: String = "live") async throws -> (
        id: String, key: String, secret: String
    ) {
        var request = try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string(name)])
        try request.set("environment", enumName: environment)
        let response = try await call("CreateAccount", request)
        return (response.string("id")!, response.string("api_key")!, response.string("signing_secret")!)
    }

    func authenticate(_ key: String) async throws(RPCError) -> ProtoMessage {
        try await call(
            "Authenticate",
            try! ProtoMessage("harepost.auth.v1.AuthenticateRequest", ["api_key": .string(key)])
        )
    }

    /// The RPCError a call ends with (nil if it succeeded).
    func failure(_ method: String, _ request: ProtoMessage, account: String? = nil, metadata: [String: String] = [:])
        async -> RPCError?
    {
        do {
            _ = try await call(method, request, account: account, metadata: metadata)
            return nil
        } catch {
            return error
        }
    }
}

@Suite("Auth service", .timeLimit(.minutes(1)))
struct AuthServiceTests {
    /// An account name holding U+0000 is refused, not stored cut.
    @Test func anAccountNameWithNulIsRefused() async throws {
        try await AuthHarness.withService { auth in
            let request = try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Ac\u{0}me")])
            let error = await auth.failure("CreateAccount", request)
            #expect(error?.code == .invalidArgument)
            #expect(error?.message == "name must not contain U+0000")
        }
    }

    @Test func aKeyAuthenticatesUntilRevokedAndRevocationIsImmediate() async throws {
        try await AuthHarness.withService { auth in
            let account = try await auth.createAccount()
            #expect(account.id.hasPrefix("acct_"))
            #expect(account.key.hasPrefix("hp_live_") && account.key.count == 72)
            #expect(account.secret.hasPrefix("whsec_"))

            let principal = try await auth.authenticate(account.key)
            #expect(principal.string("account_id") == account.id)
            #expect(principal.enumName("environment") == "live")
            #expect(principal.int64("rate_limit_per_minute") == 6000)

            let test = try await auth.call(
                "CreateApiKey",
                try {
                    var r = try ProtoMessage("harepost.auth.v1.CreateApiKeyRequest");
                    try r.set("environment", enumName: "test"); return r
                }(),
                account: account.id
            )
            let testKey = try #require(test.string("api_key"))
            #expect(testKey.hasPrefix("hp_test_"))
            #expect(try await auth.authenticate(testKey).enumName("environment") == "test")

            let keyID = try #require(principal.string("key_id"))
            let revoked = try await auth.call(
                "RevokeApiKey",
                try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest", ["id": .string(keyID)]),
                account: account.id
            )
            #expect(revoked.message("key")?.has("revoked_at") == true)
            await #expect(throws: RPCError(.unauthenticated, "invalid API key")) {
                try await auth.authenticate(account.key)
            }
            // The other key is untouched.
            #expect(try await auth.authenticate(testKey).string("account_id") == account.id)
        }
    }

    @Test func listingShowsPrefixesAndUseButNeverTheKey() async throws {
        try await AuthHarness.withService { auth in
            let account = try await auth.createAccount()
            _ = try await auth.authenticate(account.key)
            let list = try await auth.call(
                "ListApiKeys",
                try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                account: account.id
            )
            let keys = list.values("data").compactMap(\.messageValue)
            #expect(keys.count == 1)
            #expect(keys[0].string("prefix") == String(account.key.prefix(16)))
            #expect(keys[0].has("last_used_at"))
            #expect(!keys[0].has("revoked_at"))
            #expect(!serializedBytes(list, contain: account.key))
        }
    }

    /// A change is answered once on disk: the writer syncs every commit
    /// (`synchronous = FULL`, 2), not GRDB's WAL default NORMAL (1).
    @Test func theWriterSyncsEveryCommit() async throws {
        try await withTemporaryDirectory("hp-auth-sync") { directory in
            let database = try SQLiteAuthStorage(path: "\(directory)/auth.sqlite")
            let level = try await database.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(level == 2)
        }
    }

    @Test func theDatabaseFileHoldsNoPlaintextKey() async throws {
        try await AuthHarness.withService(engines: [.sqlite]) { auth in
            var keys: [String] = []
            for index in 0..<20 {
                let account = try await auth.createAccount("Account \(index)")
                keys.append(account.key)
                _ = try await auth.authenticate(account.key)
            }
            let directory = auth.directory
            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix("auth.sqlite")
            }
            #expect(files.contains("auth.sqlite"))
            for file in files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(file)"))
                for key in keys {
                    // Neither the whole key nor its secret part (hex or raw) is stored.
                    #expect(bytes.range(of: Data(key.utf8)) == nil, "\(file) holds a key")
                    #expect(bytes.range(of: Data(key.dropFirst(16).utf8)) == nil, "\(file) holds a key's secret part")
                }
            }
        }
    }

    @Test func keysSurviveARestartOfTheService() async throws {
        @Sendable func check(_ account: (id: String, key: String, secret: String), _ auth: AuthHarness) async throws {
            #expect(try await auth.authenticate(account.key).string("account_id") == account.id)
            let secret = try await auth.call(
                "GetSigningSecret",
                try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest"),
                account: account.id
            )
            #expect(secret.string("signing_secret") == account.secret)
        }
        try await withTemporaryDirectory("hp-auth") { directory in
            let account = try await AuthHarness.withService(directory: directory) { auth in
                try await auth.createAccount()
            }
            try await AuthHarness.withService(directory: directory) { auth in try await check(account, auth) }
        }
        try await PostgresServer.with { server in
            let account = try await AuthHarness.withService(on: server) { auth in try await auth.createAccount() }
            try await AuthHarness.withService(on: server) { auth in try await check(account, auth) }
        }
    }

    /// Two auths on one database: what one writes the other serves, and
    /// rotations racing through both leave one current secret.
    @Test func twoAuthsShareOneDatabase() async throws {
        try await PostgresServer.with { server in
            try await AuthHarness.withService(on: server) { first in
                try await AuthHarness.withService(on: server) { second in
                    let account = try await first.createAccount()
                    #expect(try await second.authenticate(account.key).string("account_id") == account.id)

                    let rotate = try ProtoMessage(
                        "harepost.auth.v1.RotateSigningSecretRequest",
                        ["overlap_seconds": .int64(3600)]
                    )
                    let made = try await withThrowingTaskGroup(of: String.self) { group in
                        for index in 0..<20 {
                            let auth = index.isMultiple(of: 2) ? first : second
                            group.addTask {
                                try await auth.call("RotateSigningSecret", rotate, account: account.id)
                                    .string("signing_secret")!
                            }
                        }
                        return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                    }
                    #expect(made.count == 20)
                    let current = try await first.scalar(
                        "SELECT count(*) FROM signing_secrets WHERE account_id = '\(account.id)' AND valid_until IS NULL"
                    )
                    #expect(current == "1")
                    let list = try await second.call(
                        "ListSigningSecrets",
                        try ProtoMessage("harepost.auth.v1.ListSigningSecretsRequest"),
                        account: account.id
                    )
                    // Every secret but the current one is a previous one, none lost.
                    let previous = Set(list.values("previous").compactMap { $0.messageValue?.string("signing_secret") })
                    #expect(previous.count == 20)
                    #expect(previous.union([list.string("signing_secret")!]) == made.union([account.secret]))

                    let keyID = try await first.authenticate(account.key).string("key_id")!
                    _ = try await second.call(
                        "RevokeApiKey",
                        try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest", ["id": .string(keyID)]),
                        account: account.id
                    )
                    await #expect(throws: RPCError(.unauthenticated, "invalid API key")) {
                        try await first.authenticate(account.key)
                    }
                }
            }
        }
    }

    @Test func thousandConcurrentAuthenticationsAllAnswerCorrectly() async throws {
        try await AuthHarness.withService { auth in
            var accounts: [(id: String, key: String, secret: String)] = []
            for index in 0..<10 { accounts.append(try await auth.createAccount("Account \(index)")) }
            let frozen = accounts
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let account = frozen[index % frozen.count]
                        if index % 10 == 9 {
                            // Every tenth presents a wrong key: it must be refused, not mixed up.
                            do throws(RPCError) {
                                _ = try await auth.authenticate("hp_live_" + String(repeating: "0", count: 64))
                                return false
                            } catch {
                                return error.code == .unauthenticated
                            }
                        }
                        return try await auth.authenticate(account.key).string("account_id") == account.id
                    }
                }
                var correct = 0
                for try await ok in group where ok { correct += 1 }
                #expect(correct == 1000)
            }
        }
    }

    @Test func badInputGetsPreciseStatusesAndWritesNothing() async throws {
        try await AuthHarness.withService { auth in
            let account = try await auth.createAccount()
            let other = try await auth.createAccount("Other")
            let createAccount = { (name: String) in
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string(name)])
            }
            #expect(
                await auth.failure("CreateAccount", try createAccount("   "))
                    == .invalidArgument("name must not be empty")
            )
            #expect(
                await auth.failure("CreateAccount", try createAccount(String(repeating: "n", count: 201)))?.code
                    == .invalidArgument
            )

            for malformed in [
                "", "hp_live_", "hp_prod_" + String(repeating: "a", count: 64),
                "hp_live_" + String(repeating: "A", count: 64), account.key + "0",
            ] {
                await #expect(throws: RPCError(.unauthenticated, "invalid API key")) {
                    try await auth.authenticate(malformed)
                }
            }

            let revoke = { (id: String) in try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest", ["id": .string(id)])
            }
            #expect(
                await auth.failure("RevokeApiKey", try revoke("nope"), account: account.id)?.code == .invalidArgument
            )
            #expect(
                await auth.failure("RevokeApiKey", try revoke("key_000000000000000000000000"), account: account.id)?
                    .code == .notFound
            )
            // Another account's key is NOT_FOUND, and stays valid.
            let otherKeyID = try await auth.authenticate(other.key).string("key_id")!
            #expect(
                await auth.failure("RevokeApiKey", try revoke(otherKeyID), account: account.id)
                    == .notFound("no API key \(otherKeyID)")
            )
            #expect(try await auth.authenticate(other.key).string("account_id") == other.id)

            let list = try ProtoMessage("harepost.auth.v1.ListApiKeysRequest")
            #expect(await auth.failure("ListApiKeys", list)?.code == .unauthenticated)
            #expect(
                await auth.failure("ListApiKeys", list, account: "acct_000000000000000000000000")
                    == .notFound("no account acct_000000000000000000000000")
            )

            let keysBefore = try await auth.call("ListApiKeys", list, account: account.id).values("data").count
            #expect(
                await auth.failure(
                    "CreateApiKey",
                    try ProtoMessage("harepost.auth.v1.CreateApiKeyRequest"),
                    account: "acct_000000000000000000000000"
                )?.code == .notFound
            )
            let orphans = try await auth.scalar(
                "SELECT count(*) FROM api_keys WHERE account_id NOT IN (SELECT id FROM accounts)"
            )
            #expect(orphans == "0")
            #expect(try await auth.call("ListApiKeys", list, account: account.id).values("data").count == keysBefore)

            let limit = { (value: Int32) in
                try ProtoMessage("harepost.auth.v1.SetRateLimitRequest", ["rate_limit_per_minute": .int32(value)])
            }
            #expect(await auth.failure("SetRateLimit", try limit(-1), account: account.id)?.code == .invalidArgument)
            let overlap = try ProtoMessage(
                "harepost.auth.v1.RotateSigningSecretRequest",
                ["overlap_seconds": .int64(-5)]
            )
            #expect(await auth.failure("RotateSigningSecret", overlap, account: account.id)?.code == .invalidArgument)
        }
    }

    @Test func rateLimitsAreSetPerAccountAndZeroSwitchesThemOff() async throws {
        try await AuthHarness.withService(configuration: .init(defaultRateLimitPerMinute: 120)) { auth in
            let account = try await auth.createAccount()
            #expect(try await auth.authenticate(account.key).int64("rate_limit_per_minute") == 120)
            let off = try ProtoMessage("harepost.auth.v1.SetRateLimitRequest", ["rate_limit_per_minute": .int32(0)])
            _ = try await auth.call("SetRateLimit", off, account: account.id)
            #expect(try await auth.authenticate(account.key).int64("rate_limit_per_minute") == 0)
        }
    }

    @Test func rotationKeepsThePreviousSecretValidForTheOverlap() async throws {
        try await AuthHarness.withService { auth in
            let account = try await auth.createAccount()
            let get = try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest")
            let listRequest = try ProtoMessage("harepost.auth.v1.ListSigningSecretsRequest")
            #expect(
                try await auth.call("GetSigningSecret", get, account: account.id).string("signing_secret")
                    == account.secret
            )

            let rotated = try await auth.call(
                "RotateSigningSecret",
                try ProtoMessage("harepost.auth.v1.RotateSigningSecretRequest", ["overlap_seconds": .int64(3600)]),
                account: account.id
            )
            let second = try #require(rotated.string("signing_secret"))
            #expect(second != account.secret && second.hasPrefix("whsec_"))
            #expect(
                try await auth.call("GetSigningSecret", get, account: account.id).string("signing_secret") == second
            )
            var list = try await auth.call("ListSigningSecrets", listRequest, account: account.id)
            #expect(list.string("signing_secret") == second)
            #expect(
                list.values("previous").compactMap { $0.messageValue?.string("signing_secret") } == [account.secret]
            )

            // With no overlap the rotated-out secret is invalid at once; the first keeps its hour.
            let third = try await auth.call(
                "RotateSigningSecret",
                try ProtoMessage("harepost.auth.v1.RotateSigningSecretRequest", ["overlap_seconds": .int64(0)]),
                account: account.id
            ).string("signing_secret")
            list = try await auth.call("ListSigningSecrets", listRequest, account: account.id)
            #expect(list.string("signing_secret") == third)
            #expect(
                list.values("previous").compactMap { $0.messageValue?.string("signing_secret") } == [account.secret]
            )
        }
    }

    @Test func openSignUpIsAnOperatorSettingOffByDefault() async throws {
        let request = try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Self-serve")])
        let publicCall = [RPCMetadataKey.origin: "public"]
        try await AuthHarness.withService { auth in
            #expect(await auth.failure("CreateAccount", request, metadata: publicCall)?.code == .permissionDenied)
            #expect(await auth.failure("CreateAccount", request) == nil)  // operators can always
        }
        try await AuthHarness.withService(configuration: .init(openSignup: true)) { auth in
            #expect(await auth.failure("CreateAccount", request, metadata: publicCall) == nil)
        }
    }

    /// The fast path: authentication reads one row through the unique index on the key hash.
    @Test func authenticationIsOneIndexedRead() async throws {
        try await withTemporaryDirectory("hp-auth") { directory in
            let database = try SQLiteAuthStorage(path: "\(directory)/auth.sqlite")
            let plan = try await database.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "EXPLAIN QUERY PLAN " + SQLiteAuthStorage.authenticateSQL,
                    arguments: [Data(count: 32)]
                )
                .map { $0["detail"] as String }
            }
            #expect(plan.count == 2, "\(plan)")
            #expect(
                plan.contains {
                    $0.hasPrefix("SEARCH k USING INDEX sqlite_autoindex_api_keys") && $0.contains("(hash=?)")
                },
                "\(plan)"
            )
            #expect(plan.contains { $0.hasPrefix("SEARCH a USING INDEX sqlite_autoindex_accounts") }, "\(plan)")
            #expect(!plan.contains { $0.contains("SCAN") }, "\(plan)")
        }
    }
}

/// Whether `message`'s wire bytes contain `text` anywhere.
func serializedBytes(_ message: ProtoMessage, contain text: String) -> Bool {
    String(decoding: message.serializedBytes(), as: UTF8.self).contains(text)
}
