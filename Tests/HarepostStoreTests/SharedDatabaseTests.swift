import HarepostContracts
import HarepostProto
import HarepostTestSupport
import NIOConcurrencyHelpers
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

    /// An id another store made in the same millisecond is refused by the
    /// unique index, and the send is stored under a fresh one.
    @Test func aTakenQueueIDIsReplacedNotOverwritten() async throws {
        try await PostgresServer.with { server in
            try await StoreHarness.withStore(on: server) { store in
                let engine = store.service.engine
                let tenant = Tenant(accountID: "acct_a", environment: .live)
                let first = try await engine.insert(NewDelivery.sample(tenant))
                let again = try await engine.insert(NewDelivery.sample(tenant).withQueueID(first.record.queueID))
                #expect(again.created)
                #expect(again.record.queueID != first.record.queueID)
                #expect(try await server.psql("SELECT count(*) FROM deliveries") == "2")
                // In a batch too: the batch's statement fails, each send is tried alone.
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<20 {
                        let delivery =
                            index == 10
                            ? NewDelivery.sample(tenant).withQueueID(first.record.queueID) : NewDelivery.sample(tenant)
                        group.addTask { try await engine.insert(delivery).record.queueID }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(ids.count == 20 && !ids.contains(first.record.queueID))
                #expect(try await server.psql("SELECT count(*) FROM deliveries") == "22")
            }
        }
    }

    /// Attempts recorded together: each is checked against its own lease,
    /// and one whose lease is not held fails alone.
    @Test func attemptsRecordedTogetherFailAlone() async throws {
        try await PostgresServer.with { server in
            try await StoreHarness.withStore(on: server) { store in
                let engine = store.service.engine
                let tenant = Tenant(accountID: "acct_a", environment: .live)
                for _ in 0..<20 { _ = try await engine.insert(NewDelivery.sample(tenant)) }
                let leased = try await engine.claimDue(
                    now: 0,
                    limit: 20,
                    leaseMarginMilliseconds: 30_000,
                    workerID: "t"
                )
                #expect(leased.count == 20)
                let report = AttemptReport(
                    outcome: .delivered,
                    httpStatus: 200,
                    durationMilliseconds: 5,
                    error: nil,
                    requestURL: "https://your-app.com/hook",
                    requestMethod: "POST",
                    requestHeadersJSON: nil,
                    requestBodySize: 0,
                    responseHeadersJSON: nil,
                    responseBody: nil,
                    newStatus: .delivered,
                    nextAttemptAt: nil
                )
                let outcomes = await withTaskGroup(of: Bool.self) { group in
                    for (index, lease) in leased.enumerated() {
                        group.addTask {
                            do {
                                _ = try await engine.record(
                                    report,
                                    queueID: lease.delivery.queueID,
                                    leaseID: index == 7 ? "lease_not_this_one" : lease.leaseID,
                                    now: 1
                                )
                                return true
                            } catch {
                                return false
                            }
                        }
                    }
                    return await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 }.count == 19)
                #expect(try await server.psql("SELECT count(*) FROM attempts") == "19")
                #expect(try await server.psql("SELECT count(*) FROM deliveries WHERE status = 'delivered'") == "19")
            }
        }
    }

    /// Paging through one store while sends keep arriving through two: every
    /// delivery committed before the first page shows exactly once, and no
    /// page repeats an item of another.
    @Test func pagesStayExactWhileSendsArriveThroughSeveralStores() async throws {
        try await PostgresServer.with { server in
            try await StoreHarness.withStore(on: server) { first in
                try await StoreHarness.withStore(on: server) { second in
                    let before = try await withThrowingTaskGroup(of: String.self) { group in
                        for index in 0..<40 {
                            let store = index % 2 == 0 ? first : second
                            group.addTask {
                                try await store.send(#"{"target": "https://your-app.com/\#(index)"}"#)
                                    .string("queue_id")!
                            }
                        }
                        return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                    }
                    let stop = ManagedFlag()
                    async let arriving: Int = {
                        var sent = 0
                        while !stop.isSet {
                            let store = sent % 2 == 0 ? first : second
                            _ = try await store.send(#"{"target": "https://your-app.com/late"}"#)
                            sent += 1
                        }
                        return sent
                    }()
                    var seen: [String] = []
                    var cursor: String?
                    repeat {
                        let request = try ProtoMessage(
                            "harepost.store.v1.ListDeliveriesRequest",
                            ["limit": .int32(7), "cursor": cursor.map(ProtoValue.string)]
                        )
                        let page = try await first.call("ListDeliveries", request)
                        seen += page.values("data").compactMap { $0.messageValue?.string("queue_id") }
                        cursor = page.has("next_cursor") ? page.string("next_cursor") : nil
                    } while cursor != nil
                    stop.set()
                    #expect(try await arriving > 0)
                    #expect(Set(seen).count == seen.count, "an item was repeated")
                    #expect(before.isSubset(of: Set(seen)), "\(before.subtracting(seen).count) skipped")
                }
            }
        }
    }
}

/// A flag one task sets and another polls.
final class ManagedFlag: Sendable {
    private let value = NIOLockedValueBox(false)
    var isSet: Bool { value.withLockedValue { $0 } }
    func set() { value.withLockedValue { $0 = true } }
}
