import Foundation
import GRDB
import HarepostTestSupport
import Testing

@testable import HarepostStore

/// Lookups and first pages must stay O(limit) at millions of rows: every hot
/// query searches an index, never scans a table or sorts in a temp B-tree.
@Suite("Store query plans")
struct QueryPlanTests {
    static func plan(_ sql: String, _ arguments: StatementArguments) async throws -> [String] {
        return try await withTemporaryDirectory("hp-plan") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            return try await engine.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                    $0["detail"] as String
                }
            }
        }
    }

    static let queries: [(String, String, StatementArguments)] = [
        ("get delivery", SQLiteStatements.deliveryOfTenant, ["hr_x", "a", "live"]),
        ("attempts of a delivery", SQLiteStatements.attemptsOfDelivery, [1]),
        (
            "first page", "SELECT * FROM deliveries WHERE account_id = ? AND environment = ? ORDER BY seq DESC LIMIT ?",
            ["a", "live", 26]
        ),
        (
            "next page",
            "SELECT * FROM deliveries WHERE account_id = ? AND environment = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            ["a", "live", 100, 26]
        ),
        (
            "page by status",
            "SELECT * FROM deliveries WHERE account_id = ? AND environment = ? AND status = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            ["a", "live", "dead_letter", 100, 26]
        ),
        ("idempotency", SQLiteStatements.deliveryByIdempotencyKey, ["a", "k"]),
        (
            "hookstream page",
            StoreColumns.attemptSelect
                + " WHERE a.account_id = ? AND a.environment = ? ORDER BY a.seq DESC LIMIT ? OFFSET ?",
            ["a", "live", 50, 0]
        ),
        ("due work", SQLiteStatements.due, [1, 1, 10]),
    ]

    @Test(arguments: queries.indices)
    func hotQueriesUseIndexes(_ index: Int) async throws {
        let (name, sql, arguments) = Self.queries[index]
        let plan = try await Self.plan(sql, arguments)
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(name): \(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(name): \(plan)")
    }
}
