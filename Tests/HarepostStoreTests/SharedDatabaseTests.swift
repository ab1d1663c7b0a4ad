import HarepostProto
import HarepostTestSupport
import Testing

@testable import HarepostStore

/// Several stores on one PostgreSQL database, as a multi-host deployment runs them.
@Suite("Stores sharing one PostgreSQL")
struct SharedDatabaseTests {
    /// 100 concurrent sends with one idempotency key, half through each of
    /// two stores: one delivery, and every answer names it.
    @Test func oneIdempotencyKeyAcrossStoresMakesOneDelivery() async throws {
        try await PostgresServer.with { server in
            try await StoreHarness.withStore(on: server) { first in
                try await StoreHarness.withStore(on: server) { second in
                    let ids = try await withThrowingTaskGroup(of: String.self) { group in
                        for index in 0..<100 {
                            let store = index % 2 == 0 ? first : second
                            group.addTask {
                                try await store.send(
                                    #"{"target": "https://your-app.com/", "idempotency_key": "order-42"}"#
                                ).string("queue_id") ?? ""
                            }
                        }
                        return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                    }
                    #expect(ids.count == 1)
                    #expect(try await server.psql("SELECT count(*) FROM deliveries") == "1")
                }
            }
        }
    }

    /// A send through one store wakes a claim waiting on another, and a
    /// delivery leased through one is not offered by the other.
    @Test(.timeLimit(.minutes(1))) func aSendThroughOneStoreWakesAClaimOnAnother() async throws {
        try await PostgresServer.with { server in
            try await StoreHarness.withStore(on: server) { first in
                try await StoreHarness.withStore(on: server) { second in
                    async let claimed = second.claim(waitMilliseconds: 20_000, timeout: .seconds(30))
                    while second.service.due.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
                    let queueID = try await first.send(#"{"target": "https://your-app.com/"}"#).string("queue_id")
                    let tasks = try await claimed
                    #expect(tasks.map { $0.string("queue_id") } == [queueID])
                    #expect(try await first.claim().isEmpty)
                    #expect(try await server.psql("SELECT worker_id FROM deliveries") == "test")
                }
            }
        }
    }
}
