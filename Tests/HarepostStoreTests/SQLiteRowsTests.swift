import Foundation
import GRDB
import HarepostContracts
import HarepostTestSupport
import Testing

@testable import HarepostStore

/// The store decodes rows by column position (SQLiteRows): every field must
/// come back as written, through each query that reads it.
@Suite("SQLite rows")
struct SQLiteRowsTests {
    @Test func everyFieldOfADeliveryAndItsAttemptsRoundTrips() async throws {
        try await withTemporaryDirectory("hp-rows") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let tenant = Tenant(accountID: "acct_rows", environment: .test)
            var policy = SendValidation.resolvePolicy(nil)
            policy.maxAttempts = 7
            policy.respectRetryAfter = false
            let new = NewDelivery(
                queueID: StoreIdentifiers.timeOrdered("hr"),
                tenant: tenant,
                target: "https://your-app.com/hooks?x=1",
                method: "PUT",
                headers: ["X-Shop": "acme"],
                body: Array("{\"a\":1}".utf8) + [0, 255],
                metadataJSON: "{\"k\":\"v\"}",
                sign: true,
                idempotencyKey: "key-1",
                policy: policy,
                destinationOrigin: "https://your-app.com",
                destinationName: "your-app.com",
                connectionName: "your-app.com",
                createdAt: 1_700_000_000_123,
                requestID: "req-1"
            )
            let (inserted, created) = try await engine.insert(new)
            #expect(created)
            #expect(inserted.body == new.body)
            #expect(inserted.policy == policy)
            #expect(inserted.status == .queued && inserted.nextTrigger == .initial && inserted.requestID == "req-1")

            // What insert answers without reading the row back is what is stored.
            let (stored, noAttempts) = try engine.delivery(new.queueID, tenant: tenant)
            #expect(stored == inserted)
            #expect(noAttempts.isEmpty)
            let (again, createdAgain) = try await engine.insert(new)
            #expect(!createdAgain)
            #expect(again == inserted)
            #expect(try engine.deliveries(tenant: tenant, status: nil, before: nil, limit: 10) == [inserted])

            let leased = try #require(
                try await engine.claimDue(
                    now: new.createdAt,
                    limit: 10,
                    leaseMarginMilliseconds: 1000,
                    workerID: "test"
                ).first
            )
            #expect(leased.delivery == inserted)
            let report = AttemptReport(
                outcome: .failed,
                httpStatus: 503,
                durationMilliseconds: 42,
                error: "HTTP 503",
                requestURL: new.target,
                requestMethod: "PUT",
                requestHeadersJSON: "{\"X-Shop\":\"acme\"}",
                requestBodySize: Int64(new.body.count),
                responseHeadersJSON: "{\"Retry-After\":\"5\"}",
                responseBody: "busy",
                newStatus: .retrying,
                nextAttemptAt: new.createdAt + 5000
            )
            let now = new.createdAt + 100
            #expect(
                try await engine.record(report, queueID: new.queueID, leaseID: leased.leaseID, now: now) == .retrying
            )

            let (afterAttempt, attempts) = try engine.delivery(new.queueID, tenant: tenant)
            #expect(afterAttempt.status == .retrying)
            #expect(afterAttempt.attempts == 1)
            #expect(afterAttempt.lastStatus == 503)
            #expect(afterAttempt.updatedAt == now)
            #expect(afterAttempt.nextTrigger == .retry)
            let attempt = try #require(attempts.first)
            #expect(attempts.count == 1)
            #expect(attempt.queueID == new.queueID)
            #expect(attempt.tenant == tenant)
            #expect(attempt.connectionID.hasPrefix("conn_") && attempt.destinationID.hasPrefix("dest_"))
            #expect(attempt.connectionName == "your-app.com" && attempt.destinationName == "your-app.com")
            #expect(attempt.attemptNumber == 1 && attempt.triggerType == .initial && attempt.outcome == .failed)
            #expect(attempt.httpStatus == 503 && attempt.durationMilliseconds == 42 && attempt.error == "HTTP 503")
            #expect(attempt.requestURL == new.target && attempt.requestMethod == "PUT")
            #expect(attempt.requestHeadersJSON == report.requestHeadersJSON)
            #expect(attempt.requestBodySize == Int64(new.body.count))
            #expect(attempt.responseHeadersJSON == report.responseHeadersJSON && attempt.responseBody == "busy")
            #expect(attempt.createdAt == now && attempt.nextRetryAt == new.createdAt + 5000)
            #expect(!attempt.isDLQ && attempt.dlqAt == nil)
            let listed = try await engine.attempts(tenant: tenant, filter: AttemptFilter(), limit: 10, offset: 0)
            #expect(listed.records == [attempt])
            #expect(listed.total == 1)
        }
    }

    /// A send without metadata, idempotency key or request id stores NULLs
    /// (not empty strings: sends without a key must not collide on the
    /// unique key index) and an empty body, and reads back the same.
    @Test func absentOptionalFieldsAreStoredAsNull() async throws {
        try await withTemporaryDirectory("hp-rows-null") { directory in
            let engine = try SQLiteEngine(path: "\(directory)/store.sqlite")
            let tenant = Tenant(accountID: "acct_null", environment: .live)
            let first = try await engine.insert(.sample(tenant))
            let second = try await engine.insert(.sample(tenant))
            #expect(first.created && second.created)
            let (stored, _) = try engine.delivery(first.record.queueID, tenant: tenant)
            #expect(stored == first.record)
            #expect(stored.idempotencyKey == nil && stored.requestID == nil && stored.body.isEmpty)
            let nulls = try await engine.pool.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM deliveries
                        WHERE metadata IS NULL AND idempotency_key IS NULL AND request_id IS NULL AND length(body) = 0
                        """
                )
            }
            #expect(nulls == 2)
        }
    }
}
