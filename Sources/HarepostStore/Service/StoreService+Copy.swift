import GRDB
import HarepostContracts
public import HarepostPostgres
import Logging

extension StoreService {
    /// The store's tables, parents before children.
    static let tables = ["domains", "destinations", "connections", "deliveries", "attempts"]

    /// Copies the SQLite store at `path` into `database` (its schema
    /// current, its tables empty), then checks the row counts and looks up
    /// `sample` random deliveries, with their attempts and their tenant's
    /// newest page, through both engines: any difference is an error.
    /// The store must not be running.
    public static func copySQLite(at path: String, to database: PostgresBackend, sample: Int) async throws
        -> SQLiteToPostgres.CopyReport
    {
        let sqlite = try SQLiteEngine(path: path)
        // One unchanging view of the file for the copy and its checks.
        let snapshot = try sqlite.pool.makeSnapshot()
        let counts = try await SQLiteToPostgres.copy(tables: tables, from: snapshot, to: database)

        let postgres = PostgresEngine(database: database, logger: database.logger)
        let picked = try await snapshot.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, account_id, environment FROM deliveries ORDER BY random() LIMIT ?",
                arguments: [sample]
            ).map { row in
                (
                    queueID: row["id"] as String, accountID: row["account_id"] as String,
                    environment: row["environment"] as String
                )
            }
        }
        for delivery in picked {
            guard let environment = AuthV1.Environment(jsonName: delivery.environment) else {
                throw SQLiteToPostgres.Refusal("delivery \(delivery.queueID) has environment \(delivery.environment)")
            }
            let tenant = Tenant(accountID: delivery.accountID, environment: environment)
            let before =
                try await sqlite.delivery(delivery.queueID, tenant: tenant) as (DeliveryRecord, [AttemptRecord])
            let after = try await postgres.delivery(delivery.queueID, tenant: tenant)
            guard before.0 == after.0, before.1 == after.1 else {
                throw SQLiteToPostgres.Refusal("delivery \(delivery.queueID) reads differently after the copy")
            }
            let pageBefore =
                try await sqlite.deliveries(tenant: tenant, status: nil, before: nil, limit: 20)
                as [DeliveryRecord]
            let pageAfter = try await postgres.deliveries(tenant: tenant, status: nil, before: nil, limit: 20)
            guard pageBefore == pageAfter else {
                throw SQLiteToPostgres.Refusal(
                    "the newest deliveries of \(tenant.accountID) read differently after the copy"
                )
            }
        }
        return SQLiteToPostgres.CopyReport(counts: counts, lookupsCompared: picked.count)
    }
}
