import GRDB
import HarepostContracts
import HarepostTestSupport
import Testing

@testable import HarepostStore

/// Sends keep their destination and connection ids in memory after the first
/// send to an origin (DestinationLinks); the rows must be the same ones a
/// lookup in the database finds.
@Suite("Destination links")
struct DestinationLinksTests {
    static func links(_ engine: SQLiteEngine, _ queueID: String) throws -> [String] {
        try engine.pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT d.destination_id, d.connection_id, c.destination_id AS linked FROM deliveries d
                    JOIN destinations t ON t.id = d.destination_id JOIN connections c ON c.id = d.connection_id
                    WHERE d.id = ?
                    """,
                arguments: [queueID]
            )
            return row.map { [$0["destination_id"], $0["connection_id"], $0["linked"]] } ?? []
        }
    }

    @Test func sendsToOneOriginShareCommittedRowsPerTenant() async throws {
        try await withTemporaryDirectory("hp-links") { directory in
            let path = "\(directory)/store.sqlite"
            let live = Tenant(accountID: "acct_links", environment: .live)
            let test = Tenant(accountID: "acct_links", environment: .test)
            let engine = try SQLiteEngine(path: path)
            let first = try await engine.insert(.sample(live, origin: "https://a.example")).record.queueID
            let second = try await engine.insert(.sample(live, origin: "https://a.example")).record.queueID
            let other = try await engine.insert(.sample(test, origin: "https://a.example")).record.queueID
            let firstLinks = try Self.links(engine, first)
            #expect(firstLinks.count == 3 && firstLinks[0] == firstLinks[2])
            #expect(try Self.links(engine, second) == firstLinks)
            #expect(try Self.links(engine, other)[0] != firstLinks[0])
            // A new engine (a restarted store) starts with nothing in memory
            // and finds the same rows.
            let restarted = try SQLiteEngine(path: path)
            let third = try await restarted.insert(.sample(live, origin: "https://a.example")).record.queueID
            #expect(try Self.links(restarted, third) == firstLinks)
        }
    }
}
