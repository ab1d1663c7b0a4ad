import Foundation
import HarepostPostgres
import HarepostProto
import Logging
import PostgresNIO

/// Auth on PostgreSQL, for several auths (and stores) on one database. The
/// tables are SQLite's; a rotation locks its account's row, so two rotations
/// at once leave exactly one current secret.
final class PostgresAuthStorage: AuthStorage {
    let database: PostgresBackend
    let logger: Logger

    init(database: PostgresBackend, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    static let migrations = [
        PostgresMigration(
            version: 1,
            name: "accounts-keys-secrets",
            statements: [
                """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    rate_limit_per_minute BIGINT NOT NULL CHECK (rate_limit_per_minute >= 0),
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
                    hash BYTEA NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX api_keys_by_account ON api_keys(account_id, created_at)",
                """
                CREATE TABLE signing_secrets (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    secret TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    valid_until BIGINT
                )
                """,
                "CREATE INDEX signing_secrets_by_account ON signing_secrets(account_id, created_at)",
            ]
        )
    ]

    // MARK: Accounts

    func createAccount(
        name: String,
        rateLimitPerMinute: Int,
        firstKey: APIKey,
        signingSecret: String,
        now: UnixMilliseconds
    ) async throws -> (AccountRecord, APIKeyRecord) {
        let account = AccountRecord(
            id: Credentials.identifier("acct"),
            name: name,
            rateLimitPerMinute: rateLimitPerMinute,
            createdAt: now
        )
        let logger = self.logger
        let key = try await database.withTransaction { connection in
            try await connection.query(
                """
                INSERT INTO accounts (id, name, rate_limit_per_minute, created_at)
                VALUES (\(account.id), \(account.name), \(account.rateLimitPerMinute), \(now))
                """,
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO signing_secrets (account_id, secret, created_at)
                VALUES (\(account.id), \(signingSecret), \(now))
                """,
                logger: logger
            )
            return try await Self.insertKey(firstKey, accountID: account.id, now: now, connection, logger)
        }
        return (account, key)
    }

    func setRateLimit(accountID: String, perMinute: Int) async throws {
        let logger = self.logger
        try await database.withConnection { connection in
            let rows = try await connection.query(
                "UPDATE accounts SET rate_limit_per_minute = \(perMinute) WHERE id = \(accountID) RETURNING id",
                logger: logger
            ).collect()
            if rows.isEmpty { throw AuthStorageError.accountNotFound }
        }
    }

    // MARK: API keys

    func createKey(_ key: APIKey, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord {
        let logger = self.logger
        return try await database.withTransaction { connection in
            try await Self.requireAccount(accountID, lock: false, connection, logger)
            return try await Self.insertKey(key, accountID: accountID, now: now, connection, logger)
        }
    }

    private static func insertKey(
        _ key: APIKey,
        accountID: String,
        now: UnixMilliseconds,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws -> APIKeyRecord {
        let rows = try await connection.query(
            """
            INSERT INTO api_keys (id, account_id, environment, hash, prefix, created_at)
            VALUES (\(Credentials.identifier("key")), \(accountID), \(key.environment.rawValue), \(key.hash),
                    \(key.displayedPrefix), \(now))
            RETURNING \(unescaped: AuthColumns.key)
            """,
            logger: logger
        )
        return try await keys(rows)[0]
    }

    func listKeys(accountID: String) async throws -> [APIKeyRecord] {
        let logger = self.logger
        return try await database.withConnection { connection in
            try await Self.requireAccount(accountID, lock: false, connection, logger)
            return try await Self.keys(
                connection.query(
                    """
                    SELECT \(unescaped: AuthColumns.key) FROM api_keys WHERE account_id = \(accountID)
                    ORDER BY created_at, id
                    """,
                    logger: logger
                )
            )
        }
    }

    func revokeKey(id: String, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord {
        let logger = self.logger
        return try await database.withTransaction { connection in
            try await Self.requireAccount(accountID, lock: false, connection, logger)
            try await connection.query(
                """
                UPDATE api_keys SET revoked_at = \(now)
                WHERE id = \(id) AND account_id = \(accountID) AND revoked_at IS NULL
                """,
                logger: logger
            )
            let found = try await Self.keys(
                connection.query(
                    "SELECT \(unescaped: AuthColumns.key) FROM api_keys WHERE id = \(id) AND account_id = \(accountID)",
                    logger: logger
                )
            )
            guard let key = found.first else { throw AuthStorageError.keyNotFound }
            return key
        }
    }

    func principal(forKeyHash hash: Data) async throws -> (Principal, lastUsedAt: UnixMilliseconds?)? {
        let logger = self.logger
        return try await database.withConnection { connection in
            let rows = try await connection.query(
                """
                SELECT k.id, k.account_id, k.environment, k.last_used_at, a.rate_limit_per_minute
                FROM api_keys k JOIN accounts a ON a.id = k.account_id
                WHERE k.hash = \(hash) AND k.revoked_at IS NULL
                """,
                logger: logger
            )
            for try await (id, account, environment, lastUsedAt, limit) in rows.decode(
                (String, String, String, Int64?, Int).self
            ) {
                let principal = Principal(
                    accountID: account,
                    environment: Environment(rawValue: environment) ?? .live,
                    rateLimitPerMinute: limit,
                    keyID: id
                )
                return (principal, lastUsedAt)
            }
            return nil
        }
    }

    func recordUse(ofKey id: String, at now: UnixMilliseconds) async throws {
        let logger = self.logger
        try await database.withConnection { connection in
            try await connection.query("UPDATE api_keys SET last_used_at = \(now) WHERE id = \(id)", logger: logger)
        }
    }

    // MARK: Signing secrets

    func signingSecrets(accountID: String, now: UnixMilliseconds) async throws -> SigningSecrets {
        let logger = self.logger
        return try await database.withConnection { connection in
            try await Self.requireAccount(accountID, lock: false, connection, logger)
            let rows = try await connection.query(
                """
                SELECT secret, valid_until FROM signing_secrets
                WHERE account_id = \(accountID) AND (valid_until IS NULL OR valid_until > \(now))
                ORDER BY created_at DESC, seq DESC
                """,
                logger: logger
            )
            var current: String?
            var previous: [(secret: String, validUntil: UnixMilliseconds)] = []
            for try await (secret, validUntil) in rows.decode((String, Int64?).self) {
                if let validUntil {
                    previous.append((secret, validUntil))
                } else if current == nil {
                    current = secret
                }
            }
            return SigningSecrets(current: current ?? "", previous: previous)
        }
    }

    func rotateSigningSecret(accountID: String, to secret: String, overlapMilliseconds: Int64, now: UnixMilliseconds)
        async throws -> UnixMilliseconds
    {
        let logger = self.logger
        return try await database.withTransaction { connection in
            // Rotations of one account take turns: the second then sees the
            // first's new secret as the current one to retire.
            try await Self.requireAccount(accountID, lock: true, connection, logger)
            let validUntil = now + overlapMilliseconds
            try await connection.query(
                """
                UPDATE signing_secrets SET valid_until = \(validUntil)
                WHERE account_id = \(accountID) AND valid_until IS NULL
                """,
                logger: logger
            )
            try await connection.query(
                "INSERT INTO signing_secrets (account_id, secret, created_at) VALUES (\(accountID), \(secret), \(now))",
                logger: logger
            )
            return validUntil
        }
    }

    // MARK: Health

    func storageFailure(_ error: any Error) -> String? {
        PostgresFailure.storageReason(error)
    }

    func probeWrite() async throws {
        try await database.probeWrite()
    }

    var isReady: Bool { database.isReady }

    // MARK: Helpers

    private static func requireAccount(
        _ id: String,
        lock: Bool,
        _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws {
        let rows = try await connection.query(
            "SELECT 1 FROM accounts WHERE id = \(id) \(unescaped: lock ? "FOR UPDATE" : "")",
            logger: logger
        ).collect()
        if rows.isEmpty { throw AuthStorageError.accountNotFound }
    }

    private static func keys(_ rows: PostgresRowSequence) async throws -> [APIKeyRecord] {
        var keys: [APIKeyRecord] = []
        for try await (id, account, environment, prefix, createdAt, lastUsedAt, revokedAt) in rows.decode(
            (String, String, String, String, Int64, Int64?, Int64?).self
        ) {
            keys.append(
                APIKeyRecord(
                    id: id,
                    accountID: account,
                    environment: Environment(rawValue: environment) ?? .live,
                    prefix: prefix,
                    createdAt: createdAt,
                    lastUsedAt: lastUsedAt,
                    revokedAt: revokedAt
                )
            )
        }
        return keys
    }
}
