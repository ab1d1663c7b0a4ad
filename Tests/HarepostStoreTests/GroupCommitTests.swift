import Foundation
import HarepostTestSupport
import Testing

@testable import HarepostStore

@Suite("Group commit")
struct GroupCommitTests {
    /// Concurrent sends share transactions (one sync to disk each), and every
    /// one is answered only after its transaction committed.
    @Test func concurrentSendsShareCommits() async throws {
        try await withTemporaryDirectory("hp-gc") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let tenant = Tenant(accountID: "acct_gc", environment: "live")
            let policy = SendValidation.resolvePolicy(nil)
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let delivery = NewDelivery(
                            queueID: StoreIdentifiers.timeOrdered("hr"),
                            tenant: tenant,
                            target: "https://your-app.com/\(index)",
                            method: "POST",
                            headers: [:],
                            body: [],
                            metadataJSON: nil,
                            sign: false,
                            // One duplicate key inside the batch: it must see the first write.
                            idempotencyKey: index % 100 == 0 ? "dup" : nil,
                            policy: policy,
                            destinationOrigin: "https://your-app.com",
                            destinationName: "https://your-app.com",
                            connectionName: "your-app.com",
                            createdAt: 1,
                            requestID: nil
                        )
                        return try await engine.insert(delivery).record.queueID
                    }
                }
                var ids: Set<String> = []
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(ids.count == 199)
            let stored = try engine.deliveries(tenant: tenant, status: nil, before: nil, limit: 1000)
            #expect(Set(stored.map(\.queueID)) == ids)
            let (transactions, writes) = engine.commits.statistics
            #expect(writes == 200)
            #expect(transactions < writes / 2, "\(writes) writes in \(transactions) transactions")
        }
    }
}
