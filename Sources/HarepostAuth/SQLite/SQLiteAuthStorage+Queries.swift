import Foundation
import GRDB
import HarepostProto

extension APIKeyRecord {
    init(row: Row) {
        self.init(
            id: row["id"],
            accountID: row["account_id"],
            environment: Environment(rawValue: row["environment"]) ?? .live,
            prefix: row["prefix"],
            createdAt: row["created_at"],
            lastUsedAt: row["last_used_at"],
            revokedAt: row["revoked_at"]
        )
    }
}

extension SQLiteAuthStorage: AuthStorage {
    func createAccount(
        name: String,
        rateLimitPerMinute: Int,
        firstKey: APIKey,
        signingSecret: String,
        now: UnixMilliseconds
    )
        async throws -> (AccountRecord, APIKeyRecord)
    {
        let account = AccountRecord(
            id: Credentials.identifier("acct"),
            name: name,
            rateLimitPerMinute: rateLimitPerMinute,
            createdAt: now
        )
        let key = try await pool.write { db in
            try db.cachedStatement(
                sql: "INSERT INTO accounts (id, name, rate_limit_per_minute, created_at) VALUES (?, ?, ?, ?)"
            ).execute(arguments: [account.id, account.name, account.rateLimitPerMinute, now]
            )
            try db.cachedStatement(
                sql: "INSERT INTO signing_secrets (account_id, secret, created_at) VALUES (?, ?, ?)"
            ).execute(arguments: [account.id, signingSecret, now]
            )
            return try Self.insertKey(firstKey, accountID: account.id, now: now, db)
        }
        return (account, key)
    }

    func createKey(_ key: APIKey, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord {
        try await pool.write { db in
            try Self.requireAccount(accountID, db)
            return try Self.insertKey(key, accountID: accountID, now: now, db)
        }
    }

    private static func insertKey(_ key: APIKey, accountID: String, now: UnixMilliseconds, _ db: Database) throws
        -> APIKeyRecord
    {
        let id = Credentials.identifier("key")
        try db.cachedStatement(
            sql:
                "INSERT INTO api_keys (id, account_id, environment, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        ).execute(arguments: [id, accountID, key.environment.rawValue, key.hash, key.displayedPrefix, now]
        )
        return APIKeyRecord(
            row: try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(AuthColumns.key) FROM api_keys WHERE id = ?"),
                arguments: [id]
            )!
        )
    }

    func listKeys(accountID: String) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Self.requireAccount(accountID, db)
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT \(AuthColumns.key) FROM api_keys WHERE account_id = ? ORDER BY created_at, id"
                ),
                arguments: [accountID]
            ).map(APIKeyRecord.init(row:))
        }
    }

    func revokeKey(id: String, accountID: String, now: UnixMilliseconds) async throws -> APIKeyRecord {
        try await pool.write { db in
            try Self.requireAccount(accountID, db)
            try db.cachedStatement(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL"
            ).execute(arguments: [now, id, accountID]
            )
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(AuthColumns.key) FROM api_keys WHERE id = ? AND account_id = ?"),
                    arguments: [id, accountID]
                )
            else { throw AuthStorageError.keyNotFound }
            return APIKeyRecord(row: row)
        }
    }

    /// The SQL of the authentication lookup: one read through the unique index on `hash`.
    static let authenticateSQL = """
        SELECT k.id, k.account_id, k.environment, k.last_used_at, a.rate_limit_per_minute
        FROM api_keys k JOIN accounts a ON a.id = k.account_id
        WHERE k.hash = ? AND k.revoked_at IS NULL
        """

    func principal(forKeyHash hash: Data) async throws -> (Principal, lastUsedAt: UnixMilliseconds?)? {
        try pointRead { db in
            // The hot path: a prepared statement cached per connection, not re-parsed
            // per call, run on the calling thread (one indexed read takes
            // microseconds; an async read's thread hops cost more).
            let statement = try db.cachedStatement(sql: Self.authenticateSQL)
            guard let row = try Row.fetchOne(statement, arguments: [hash]) else { return nil }
            let principal = Principal(
                accountID: row["account_id"],
                environment: Environment(rawValue: row["environment"]) ?? .live,
                rateLimitPerMinute: row["rate_limit_per_minute"],
                keyID: row["id"]
            )
            return (principal, row["last_used_at"])
        }
    }

    func recordUse(ofKey id: String, at now: UnixMilliseconds) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?").execute(arguments: [
                now, id,
            ])
        }
    }

    func signingSecrets(accountID: String, now: UnixMilliseconds) async throws -> SigningSecrets {
        try await pool.read { db in
            try Self.requireAccount(accountID, db)
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT secret, valid_until FROM signing_secrets
                        WHERE account_id = ? AND (valid_until IS NULL OR valid_until > ?)
                        ORDER BY created_at DESC, rowid DESC
                        """
                ),
                arguments: [accountID, now]
            )
            let current = rows.first { ($0["valid_until"] as UnixMilliseconds?) == nil }
            return SigningSecrets(
                current: current?["secret"] ?? "",
                previous: rows.compactMap { row in
                    (row["valid_until"] as UnixMilliseconds?).map { (row["secret"], $0) }
                }
            )
        }
    }

    func rotateSigningSecret(accountID: String, to secret: String, overlapMilliseconds: Int64, now: UnixMilliseconds)
        async throws -> UnixMilliseconds
    {
        try await pool.write { db in
            try Self.requireAccount(accountID, db)
            let validUntil = now + overlapMilliseconds
            try db.cachedStatement(
                sql: "UPDATE signing_secrets SET valid_until = ? WHERE account_id = ? AND valid_until IS NULL"
            ).execute(arguments: [validUntil, accountID]
            )
            try db.cachedStatement(
                sql: "INSERT INTO signing_secrets (account_id, secret, created_at) VALUES (?, ?, ?)"
            ).execute(arguments: [accountID, secret, now]
            )
            return validUntil
        }
    }

    func setRateLimit(accountID: String, perMinute: Int) async throws {
        try await pool.write { db in
            try Self.requireAccount(accountID, db)
            try db.cachedStatement(
                sql: "UPDATE accounts SET rate_limit_per_minute = ? WHERE id = ?"
            ).execute(arguments: [perMinute, accountID]
            )
        }
    }

    private static func requireAccount(_ id: String, _ db: Database) throws {
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM accounts WHERE id = ?"), arguments: [id]) != nil
        else {
            throw AuthStorageError.accountNotFound
        }
    }

    /// Runs an indexed read on the calling thread (a synchronous function, so
    /// GRDB's synchronous `read` is the one called).
    private func pointRead<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}
