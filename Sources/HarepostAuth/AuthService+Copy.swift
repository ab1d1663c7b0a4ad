import Foundation
import GRDB
public import HarepostPostgres
import HarepostProto

extension AuthService {
    /// Auth's tables, parents before children.
    static let tables = ["accounts", "api_keys", "signing_secrets"]

    /// Copies the SQLite auth database at `path` into `database` (its schema
    /// current, its tables empty), then checks the row counts and, for
    /// `sample` random accounts, authenticates each key by its hash, lists
    /// the keys and reads the signing secrets through both engines: any
    /// difference is an error. Auth must not be running.
    public static func copySQLite(at path: String, to database: PostgresBackend, sample: Int) async throws
        -> SQLiteToPostgres.CopyReport
    {
        let sqlite = try SQLiteAuthStorage(path: path)
        // One unchanging view of the file for the copy and its checks.
        let snapshot = try sqlite.pool.makeSnapshot()
        let counts = try await SQLiteToPostgres.copy(tables: tables, from: snapshot, to: database)

        let postgres = PostgresAuthStorage(database: database, logger: database.logger)
        let accounts = try await snapshot.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM accounts ORDER BY random() LIMIT ?", arguments: [sample])
        }
        let now = Date().unixMilliseconds
        for account in accounts {
            let differs = SQLiteToPostgres.Refusal("account \(account) reads differently after the copy")
            let keys = try await sqlite.listKeys(accountID: account)
            guard try await postgres.listKeys(accountID: account) == keys else { throw differs }
            let hashes = try await snapshot.read { db in
                try Data.fetchAll(db, sql: "SELECT hash FROM api_keys WHERE account_id = ?", arguments: [account])
            }
            for hash in hashes {
                let before = try await sqlite.principal(forKeyHash: hash)
                let after = try await postgres.principal(forKeyHash: hash)
                guard before?.0 == after?.0, before?.lastUsedAt == after?.lastUsedAt else { throw differs }
            }
            let before = try await sqlite.signingSecrets(accountID: account, now: now)
            let after = try await postgres.signingSecrets(accountID: account, now: now)
            guard before.current == after.current,
                before.previous.map(\.secret) == after.previous.map(\.secret),
                before.previous.map(\.validUntil) == after.previous.map(\.validUntil)
            else { throw differs }
        }
        return SQLiteToPostgres.CopyReport(counts: counts, lookupsCompared: accounts.count)
    }
}
