import Foundation
import HarepostProto

/// Where auth keeps accounts, API keys and signing secrets. The service talks
/// only to this protocol: SQLite for one host, PostgreSQL for several auths
/// sharing one database.
///
/// Every method is one transaction; writes are durable when they return.
protocol AuthStorage: Sendable {
    func createAccount(
        name: String,
        rateLimitPerMinute: Int,
        firstKey: APIKey,
        signingSecret: String,
        now: UnixMilliseconds
    ) async throws -> (AccountRecord, APIKeyRecord)
    func setRateLimit(accountID: String, perMinute: Int) async throws

    func createKey(_ key: APIKey, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord
    /// Oldest first.
    func listKeys(accountID: String) async throws -> [APIKeyRecord]
    /// Revokes a key of `accountID`; revoking a revoked key changes nothing.
    func revokeKey(id: String, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord
    /// Who a key belongs to, with when it was last used; nil for an unknown
    /// or revoked key. One read through the unique index on the hash.
    func principal(forKeyHash hash: Data) async throws -> (Principal, lastUsedAt: UnixMilliseconds?)?
    func recordUse(ofKey id: String, at now: UnixMilliseconds) async throws

    func signingSecrets(accountID: String, now: UnixMilliseconds) async throws -> SigningSecrets
    /// Makes `secret` current; the previous current one stays valid until
    /// `now + overlapMilliseconds`, which is returned.
    func rotateSigningSecret(accountID: String, to secret: String, overlapMilliseconds: Int64, now: UnixMilliseconds)
        async throws -> UnixMilliseconds

    /// Why storage cannot work right now, when `error` says so (a full disk,
    /// an unreachable database); nil for an error about one request.
    func storageFailure(_ error: any Error) -> String?
    /// A small durable write, to find out whether writes work again.
    func probeWrite() async throws
    /// Whether storage can serve at all (a database's schema is current);
    /// health says NOT_SERVING until it is.
    var isReady: Bool { get }
}

extension AuthStorage {
    var isReady: Bool { true }
}

/// Rows as the service needs them.
struct AccountRecord: Sendable {
    let id: String
    let name: String
    let rateLimitPerMinute: Int
    let createdAt: UnixMilliseconds
}

struct APIKeyRecord: Sendable, Equatable {
    let id: String
    let accountID: String
    let environment: Environment
    let prefix: String
    let createdAt: UnixMilliseconds
    let lastUsedAt: UnixMilliseconds?
    let revokedAt: UnixMilliseconds?
}

struct Principal: Sendable, Equatable {
    let accountID: String
    let environment: Environment
    let rateLimitPerMinute: Int
    let keyID: String
}

struct SigningSecrets: Sendable {
    let current: String
    /// Earlier secrets still inside their rotation overlap, newest first.
    let previous: [(secret: String, validUntil: UnixMilliseconds)]
}

enum AuthStorageError: Error, Equatable {
    case accountNotFound
    case keyNotFound
}

/// The columns of `api_keys` every key query selects, in ``APIKeyRecord``'s order.
enum AuthColumns {
    static let key = "id, account_id, environment, prefix, created_at, last_used_at, revoked_at"
}
