import Foundation
import GRDB
import HarepostContracts
import HarepostTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HarepostStore

@Suite("Group commit")
struct GroupCommitTests {
    /// Concurrent sends share transactions (one sync to disk each), and every
    /// one is answered only after its transaction committed.
    @Test func concurrentSendsShareCommits() async throws {
        try await withTemporaryDirectory("hp-gc") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let tenant = Tenant(accountID: "acct_gc", environment: .live)
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
            let (transactions, writes, retried) = engine.commits.statistics
            #expect(retried == 0)
            #expect(writes == 200)
            #expect(transactions < writes / 2, "\(writes) writes in \(transactions) transactions")
        }
    }

    struct Refused: Error, Equatable {
        let index: Int
    }

    /// A job that throws fails alone, after its own writes: the others of
    /// its batch commit, each exactly once, and its writes are gone.
    @Test func aFailingJobFailsAloneAndItsBatchCommitsOnce() async throws {
        try await withTemporaryDirectory("hp-gc-fail") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            try await engine.pool.write { db in try db.execute(sql: "CREATE TABLE marks (job INTEGER NOT NULL)") }
            let commits = engine.commits
            // Hold the writer so that the jobs below gather into one batch.
            let (started, release) = (NIOLockedValueBox(false), NIOLockedValueBox(false))
            let holding = Task {
                try await commits.write { _ in
                    started.withLockedValue { $0 = true }
                    while !release.withLockedValue({ $0 }) { usleep(1_000) }
                }
            }
            while !started.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            let outcomes = await withTaskGroup(of: (Int, Result<Int, Refused>).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        do {
                            let value = try await commits.write { db in
                                try db.execute(sql: "INSERT INTO marks (job) VALUES (?)", arguments: [index])
                                if index % 10 == 3 { throw Refused(index: index) }
                                return index
                            }
                            return (index, .success(value))
                        } catch {
                            return (index, .failure(error as! Refused))
                        }
                    }
                }
                // Released once all 40 wait behind the held writer.
                while commits.waiting < 40 { try? await Task.sleep(for: .milliseconds(5)) }
                release.withLockedValue { $0 = true }
                var outcomes: [Int: Result<Int, Refused>] = [:]
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
            try await holding.value
            for index in 0..<40 {
                #expect(outcomes[index] == (index % 10 == 3 ? .failure(Refused(index: index)) : .success(index)))
            }
            let marks = try await engine.pool.read { db in try Int.fetchAll(db, sql: "SELECT job FROM marks") }
            #expect(marks.sorted() == (0..<40).filter { $0 % 10 != 3 })
            let statistics = commits.statistics
            #expect(statistics.retriedBatches >= 1)
            #expect(statistics.transactions < 10, "the jobs did not gather: \(statistics)")
        }
    }

    /// A write given an event loop completes on it.
    @Test func completionsRunOnTheirEventLoop() async throws {
        try await withTemporaryDirectory("hp-gc-loop") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let loops = [MultiThreadedEventLoopGroup.singleton.next(), MultiThreadedEventLoopGroup.singleton.next()]
            let onLoop = try await withThrowingTaskGroup(of: Bool.self) { tasks in
                for index in 0..<50 {
                    let loop = loops[index % 2]
                    tasks.addTask {
                        try await withCheckedThrowingContinuation { continuation in
                            engine.insert(.sample(Tenant(accountID: "acct_loop", environment: .live)), on: loop) {
                                result in
                                continuation.resume(with: result.map { _ in loop.inEventLoop })
                            }
                        }
                    }
                }
                return try await tasks.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(onLoop.count == 50 && onLoop.allSatisfy { $0 })
        }
    }
}
