import Foundation
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

@testable import HarepostStore

@Suite("Store service", .timeLimit(.minutes(1)))
struct StoreServiceTests {
    @Test func aSendIsStoredAndVisibleInTheSeedShapes() async throws {
        try await StoreHarness.withStore { store in
            let sent = try await store.send(
                #"{"target": "https://your-app.com/webhook", "body": {"order": 123}, "idempotency_key": "ord_123-paid", "metadata": {"customer": "c_1"}}"#
            )
            let queueID = try #require(sent.string("queue_id"))
            #expect(queueID.hasPrefix("hr_"))
            #expect(sent.enumName("status") == "queued")
            #expect(sent.string("idempotency_key") == "ord_123-paid")

            let delivery = ProtoJSON.encode(try await store.delivery(queueID))
            #expect(delivery["target"] == .string("https://your-app.com/webhook"))
            #expect(delivery["method"] == .string("POST"))
            #expect(delivery["status"] == .string("queued"))
            #expect(delivery["last_status"] == .null)
            #expect(delivery["attempts"] == .array([]))

            let list = ProtoJSON.encode(
                try await store.call("ListDeliveries", try ProtoMessage("harepost.store.v1.ListDeliveriesRequest"))
            )
            guard case .array(let data) = list["data"] else { Issue.record("no data"); return }
            #expect(data.count == 1)
            #expect(data.first?["attempts"] == .integer(0))
            #expect(list["next_cursor"] == .null)

            // The body reaches the dispatcher JSON-encoded, with a content type.
            let task = try #require(try await store.claim().first)
            #expect(String(decoding: task["body"]?.bytesValue ?? [], as: UTF8.self) == #"{"order":123}"#)
            #expect(task.stringMap("headers")["Content-Type"] == "application/json")
            #expect(task.enumName("trigger_type") == "initial")
        }
    }

    @Test func sendValidationNamesTheProblem() async throws {
        try await StoreHarness.withStore(.init()) { store in
            func failure(_ json: String) async throws -> RPCError? {
                await store.failure("Send", try store.sendRequest(json))
            }
            #expect(try await failure(#"{}"#) == .invalidArgument("target is required"))
            #expect(
                try await failure(#"{"target": "http://your-app.com/"}"#) == .invalidArgument("target must use https")
            )
            #expect(try await failure(#"{"target": "not a url"}"#)?.code == .invalidArgument)
            #expect(
                try await failure(#"{"target": "https://user:pw@your-app.com/"}"#)
                    == .invalidArgument("target must not carry credentials")
            )
            #expect(
                try await failure(#"{"target": "https://93.184.216.34/", "method": "TRACE"}"#)
                    == .invalidArgument("method must be one of POST, PUT, PATCH, DELETE, GET")
            )
            for blocked in [
                "https://127.0.0.1/", "https://10.1.2.3/x", "https://169.254.169.254/latest", "https://[::1]/",
                "https://[::ffff:192.168.0.1]/",
            ] {
                let error = try await failure(#"{"target": "\#(blocked)"}"#)
                #expect(error?.code == .invalidArgument, "\(blocked)")
                #expect(error?.message.contains("private, loopback or link-local") == true, "\(blocked)")
            }
            // A public address on a domain the account has not verified.
            #expect(try await failure(#"{"target": "https://93.184.216.34/hook"}"#)?.code == .permissionDenied)
            #expect(
                try await failure(#"{"target": "https://93.184.216.34/", "headers": {"X-Bad": "a\nb"}}"#)?.code
                    == .invalidArgument
            )
            let huge = String(repeating: "x", count: (1 << 20) + 1)
            #expect(
                try await failure(#"{"target": "https://93.184.216.34/", "body": "\#(huge)"}"#)?.code
                    == .invalidArgument
            )
        }
    }

    @Test func policyIsClampedAndHeadersAreFiltered() async throws {
        try await StoreHarness.withStore { store in
            _ = try await store.send(
                #"""
                {"target": "https://your-app.com/", "method": "put", "body": "raw",
                 "headers": {"X-Order": "1", "Authorization": "Bearer secret", "Connection": "close", "Content-Type": "text/plain"},
                 "delivery": {"max_attempts": 1000, "base_delay_ms": 1, "max_delay_ms": 99999999999, "timeout_ms": 0, "backoff": "fixed", "jitter": "none", "respect_retry_after": false}}
                """#
            )
            let task = try #require(try await store.claim().first)
            let policy = try #require(task.message("delivery"))
            #expect(policy.int64("max_attempts") == 25)
            #expect(policy.int64("base_delay_ms") == 100)
            #expect(policy.int64("max_delay_ms") == 43_200_000)
            #expect(policy.int64("timeout_ms") == 1000)
            #expect(policy.enumName("backoff") == "fixed")
            #expect(policy.enumName("jitter") == "none")
            #expect(policy.bool("respect_retry_after") == false)
            #expect(task.string("method") == "PUT")
            #expect(task.stringMap("headers") == ["X-Order": "1", "Content-Type": "text/plain"])
            #expect(task["body"]?.bytesValue == Array("raw".utf8))
        }
    }

    @Test func hundredConcurrentSendsWithOneIdempotencyKeyMakeOneDelivery() async throws {
        try await StoreHarness.withStore { store in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        try await store.send(#"{"target": "https://your-app.com/", "idempotency_key": "same"}"#).string(
                            "queue_id"
                        )!
                    }
                }
                var ids: Set<String> = []
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(ids.count == 1)
            let list = try await store.call(
                "ListDeliveries",
                try ProtoMessage("harepost.store.v1.ListDeliveriesRequest")
            )
            #expect(list.values("data").count == 1)
            // The key is per account: another account gets its own delivery.
            let other = try await store.send(
                #"{"target": "https://your-app.com/", "idempotency_key": "same"}"#,
                account: "acct_b"
            )
            #expect(!ids.contains(other.string("queue_id")!))
        }
    }

    /// A caller that names an account must name its environment too, in
    /// lower case: leaving it out must not act on live.
    @Test func theEnvironmentIsRequiredWithTheAccountAndCaseSensitive() async throws {
        try await StoreHarness.withStore { store in
            let request = try store.sendRequest(#"{"target": "https://your-app.com/webhook"}"#)
            let missing = await #expect(throws: RPCError.self) {
                try await store.client.call(
                    "harepost.store.v1.Store/Send",
                    request,
                    options: .init(metadata: [RPCMetadataKey.accountID: "acct_a"])
                )
            }
            #expect(missing?.code == .invalidArgument)
            #expect(missing?.message.contains("no environment (metadata harepost-environment: live or test)") == true)
            let upper = await store.failure("Send", request, environment: "TEST")
            #expect(upper == .invalidArgument(#"environment must be live or test (lower case), not "TEST""#))
        }
    }

    @Test func everyLookupIsScopedToTheCallersAccountAndEnvironment() async throws {
        try await StoreHarness.withStore { store in
            let queueID = try await store.send(#"{"target": "https://your-app.com/"}"#).string("queue_id")!
            let get = try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": .string(queueID)])
            #expect(await store.failure("GetDelivery", get, account: "acct_b") == .notFound("no delivery \(queueID)"))
            #expect(await store.failure("GetDelivery", get, environment: "test")?.code == .notFound)
            let list = try ProtoMessage("harepost.store.v1.ListDeliveriesRequest")
            #expect(try await store.call("ListDeliveries", list, account: "acct_b").values("data").isEmpty)
            let noAccount = await rpcFailure { () async throws(RPCError) in
                try await store.client.call("harepost.store.v1.Store/ListDeliveries", list)
            }
            #expect(noAccount?.code == .unauthenticated)
        }
    }

    @Test func pagingIsStableWhileSendsArrive() async throws {
        try await StoreHarness.withStore { store in
            var sent: [String] = []
            for index in 0..<30 {
                sent.append(try await store.send(#"{"target": "https://your-app.com/\#(index)"}"#).string("queue_id")!)
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                // New sends land between pages.
                _ = try await store.send(#"{"target": "https://your-app.com/late"}"#)
                let request = try ProtoMessage(
                    "harepost.store.v1.ListDeliveriesRequest",
                    ["limit": .int32(7), "cursor": cursor.map(ProtoValue.string)]
                )
                let page = try await store.call("ListDeliveries", request)
                let ids = page.values("data").compactMap { $0.messageValue?.string("queue_id") }
                seen += seen.isEmpty ? ids.drop { !sent.contains($0) } : ids[...]
                cursor = page.has("next_cursor") ? page.string("next_cursor") : nil
            } while cursor != nil
            #expect(seen == sent.reversed())  // newest first, nothing skipped or repeated
            #expect(sent == sent.sorted())  // queue ids are time-ordered
        }
    }

    @Test func listQueryValuesAreChecked() async throws {
        try await StoreHarness.withStore { store in
            let bad = { (fields: KeyValuePairs<String, ProtoValue?>) in
                try ProtoMessage("harepost.store.v1.ListDeliveriesRequest", fields)
            }
            #expect(
                await store.failure("ListDeliveries", try bad(["limit": .int32(0)]))
                    == .invalidArgument("limit must be between 1 and 100")
            )
            #expect(await store.failure("ListDeliveries", try bad(["limit": .int32(101)]))?.code == .invalidArgument)
            #expect(
                await store.failure("ListDeliveries", try bad(["cursor": .string("bogus")]))
                    == .invalidArgument("cursor is not a next_cursor from this API")
            )
            var filtered = try ProtoMessage("harepost.store.v1.ListDeliveriesRequest")
            try filtered.set("status", enumName: "dead_letter")
            #expect(try await store.call("ListDeliveries", filtered).values("data").isEmpty)
        }
    }

    /// The send's request id travels with the delivery to the dispatcher, so
    /// the logs of its attempts carry the same request.id as the gateway's.
    @Test func theSendsRequestIDComesBackWithTheClaimedTask() async throws {
        try await StoreHarness.withStore { store in
            let request = try store.sendRequest(#"{"target": "https://your-app.com/a"}"#)
            let traced = try await store.call("Send", request, requestID: "req-7f3a").string("queue_id")
            let untraced = try await store.call("Send", request).string("queue_id")
            let tasks = try await store.claim()
            let byID = Dictionary(uniqueKeysWithValues: tasks.map { ($0.string("queue_id") ?? "", $0) })
            #expect(byID[traced ?? ""]?.string("request_id") == "req-7f3a")
            #expect(byID[untraced ?? ""].map { $0.has("request_id") } == false)
        }
    }

    /// A claim waiting an hour answers the send that makes work due: woken
    /// by it, since nothing else ends its wait within the time limit.
    @Test(.timeLimit(.minutes(1))) func claimAnswersAsSoonAsWorkIsDue() async throws {
        let configuration = StoreService.Configuration(
            allowPrivateTargets: true,
            trustAllDomains: true,
            maximumClaimWait: .seconds(3600)
        )
        try await StoreHarness.withStore(configuration) { store in
            async let claimed = store.claim(waitMilliseconds: 3_600_000, timeout: .seconds(3700))
            while store.service.due.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
            _ = try await store.send(#"{"target": "https://your-app.com/"}"#)
            let tasks = try await claimed
            #expect(tasks.count == 1)
            // Leased: nobody else gets it.
            #expect(try await store.claim().isEmpty)
        }
    }

    @Test func anAttemptIsRecordedOnceUnderItsLease() async throws {
        try await StoreHarness.withStore { store in
            let queueID = try await store.send(#"{"target": "https://your-app.com/"}"#).string("queue_id")!
            let task = try #require(try await store.claim().first)
            #expect(
                try await store.record(
                    task,
                    outcome: "failed",
                    httpStatus: 503,
                    newStatus: "retrying",
                    nextAttemptInMilliseconds: 0
                ).enumName("status") == "retrying"
            )
            // The same lease again: refused, nothing recorded twice.
            await #expect(throws: RPCError.self) {
                try await store.record(
                    task,
                    outcome: "failed",
                    httpStatus: 503,
                    newStatus: "retrying",
                    nextAttemptInMilliseconds: 0
                )
            }
            var forged = task
            try forged.set("lease_id", .string("lease_forged"))
            await #expect(throws: RPCError.self) {
                try await store.record(forged, outcome: "delivered", httpStatus: 200, newStatus: "delivered")
            }

            let retry = try #require(try await store.claim().first)
            #expect(retry.int64("attempt_number") == 2)
            #expect(retry.enumName("trigger_type") == "retry")
            _ = try await store.record(retry, outcome: "delivered", httpStatus: 200, newStatus: "delivered")
            let delivery = try await store.delivery(queueID)
            #expect(delivery.enumName("status") == "delivered")
            #expect(delivery.int64("last_status") == 200)
            let attempts = delivery.values("attempts").compactMap(\.messageValue)
            #expect(attempts.map { $0.int64("attempt") } == [1, 2])
            #expect(attempts.map { $0.enumName("outcome") } == ["failed", "delivered"])
            #expect(try await store.claim().isEmpty)
        }
    }

    @Test func anExpiredLeaseMakesTheDeliveryClaimableAgain() async throws {
        let clock = ManualWallClock()
        try await StoreHarness.withStore(
            // Leases of 1 s + 4 s, on a clock that moves only when told.
            .init(allowPrivateTargets: true, trustAllDomains: true, leaseMarginMilliseconds: 4000, clock: clock)
        ) { store in
            _ = try await store.send(#"{"target": "https://your-app.com/", "delivery": {"timeout_ms": 1000}}"#)
            let first = try #require(try await store.claim().first)
            #expect(try await store.claim().isEmpty)
            try await store.letLeaseTimePass(.milliseconds(5001), clock: clock)
            let second = try #require(try await store.claim().first)
            #expect(second.string("queue_id") == first.string("queue_id"))
            #expect(second.string("lease_id") != first.string("lease_id"))
            // The first lease expired unrecorded: its attempt may have reached
            // the target, so this one is the second (receivers tell them apart).
            #expect(first["attempt_number"]?.int64Value == 1)
            #expect(second["attempt_number"]?.int64Value == 2)
            // The first dispatcher's late result is refused.
            await #expect(throws: RPCError.self) {
                try await store.record(first, outcome: "delivered", httpStatus: 200, newStatus: "delivered")
            }
            #expect(
                try await store.record(second, outcome: "delivered", httpStatus: 200, newStatus: "delivered").enumName(
                    "status"
                ) == "delivered"
            )
            let stored = try await store.call(
                "GetDelivery",
                try ProtoMessage("harepost.store.v1.GetDeliveryRequest", ["queue_id": first["queue_id"]])
            )
            let numbers = (stored.message("delivery")?.values("attempts") ?? []).compactMap {
                $0.messageValue?["attempt"]?.int64Value
            }
            #expect(numbers == [2])
        }
    }

    @Test func aDeadLetteredDeliveryCanBeRetriedManually() async throws {
        try await StoreHarness.withStore { store in
            let queueID = try await store.send(#"{"target": "https://your-app.com/"}"#).string("queue_id")!
            let retryRequest = try ProtoMessage(
                "harepost.store.v1.RetryDeliveryRequest",
                ["queue_id": .string(queueID)]
            )
            #expect(await store.failure("RetryDelivery", retryRequest)?.code == .failedPrecondition)  // still queued
            let task = try #require(try await store.claim().first)
            _ = try await store.record(task, outcome: "rejected", httpStatus: 410, newStatus: "rejected")
            let retried = try await store.call("RetryDelivery", retryRequest)
            #expect(retried.message("delivery")?.enumName("status") == "retrying")
            let again = try #require(try await store.claim().first)
            #expect(again.enumName("trigger_type") == "manual")
            #expect(await store.failure("RetryDelivery", retryRequest, account: "acct_b")?.code == .notFound)
        }
    }

    @Test func hookstreamAttemptsShowTheSameTrafficWithFilters() async throws {
        try await StoreHarness.withStore { store in
            let first = try await store.send(#"{"target": "https://your-app.com/a", "body": "hello"}"#).string(
                "queue_id"
            )!
            let second = try await store.send(#"{"target": "https://other.example/b"}"#).string("queue_id")!
            for task in try await store.claim() {
                if task.string("queue_id") == first {
                    _ = try await store.record(
                        task,
                        outcome: "failed",
                        httpStatus: 500,
                        newStatus: "retrying",
                        nextAttemptInMilliseconds: 60_000
                    )
                } else {
                    _ = try await store.record(task, outcome: "rejected", httpStatus: 404, newStatus: "rejected")
                }
            }
            let all = try await store.call(
                "ListDeliveryAttempts",
                try ProtoMessage("harepost.store.v1.ListDeliveryAttemptsRequest")
            )
            let json = ProtoJSON.encode(all)
            #expect(json["pagination"]?["total"] == .integer(2))
            #expect(json["pagination"]?["has_more"] == .bool(false))
            #expect(json["pagination"]?["limit"] == .integer(50))
            guard case .array(let attempts) = json["delivery_attempts"] else { Issue.record("no attempts"); return }
            func attempt(of event: String) -> JSONValue? { attempts.first { $0["event_id"] == .string(event) } }
            let failed = try #require(attempt(of: first))
            #expect(failed["org_id"] == .string("acct_a"))
            #expect(failed["env_id"] == .string("live"))
            #expect(failed["status"] == .string("failed"))
            #expect(failed["response_status"] == .integer(500))
            #expect(failed["request_body_size"] == .integer(5))
            #expect(failed["trigger_type"] == .string("initial"))
            #expect(failed["is_dlq"] == .integer(0))
            #expect(failed["dlq_at"] == .null)
            #expect(failed["destination_name"] == .string("https://your-app.com"))
            #expect(failed["connection_name"] == .string("your-app.com"))
            #expect(failed["response_headers"] == .string(#"{"content-type":"text/plain"}"#))
            guard case .string = failed["next_retry_at"] else { Issue.record("no next_retry_at"); return }
            #expect(attempt(of: second)?["is_dlq"] == .integer(1))

            let dlq = try ProtoMessage("harepost.store.v1.ListDeliveryAttemptsRequest", ["is_dlq": .int32(1)])
            #expect(
                try await store.call("ListDeliveryAttempts", dlq).values("delivery_attempts").compactMap {
                    $0.messageValue?.string("event_id")
                } == [second]
            )
            let byEventRequest = try ProtoMessage(
                "harepost.store.v1.ListDeliveryAttemptsRequest",
                ["event_id": .string(first), "limit": .int32(1)]
            )
            let page = try await store.call("ListDeliveryAttempts", byEventRequest)
            #expect(page.values("delivery_attempts").count == 1)
            let destination = try #require(failed["destination_id"])
            guard case .string(let destinationID) = destination else { return }
            let byDestination = try ProtoMessage(
                "harepost.store.v1.ListDeliveryAttemptsRequest",
                ["destination_id": .string(destinationID)]
            )
            #expect(try await store.call("ListDeliveryAttempts", byDestination).values("delivery_attempts").count == 1)
            #expect(
                try await store.call(
                    "ListDeliveryAttempts",
                    try ProtoMessage("harepost.store.v1.ListDeliveryAttemptsRequest"),
                    account: "acct_b"
                ).values("delivery_attempts").isEmpty
            )
        }
    }

    @Test func domainsAreAddedWithTheirChallengeRecordAndListed() async throws {
        try await StoreHarness.withStore { store in
            let added = ProtoJSON.encode(
                try await store.call(
                    "AddDomain",
                    try ProtoMessage("harepost.store.v1.AddDomainRequest", ["domain": .string("Your-App.com")])
                )
            )
            #expect(added["domain"] == .string("your-app.com"))
            #expect(added["status"] == .string("pending"))
            #expect(added["record"]?["type"] == .string("TXT"))
            #expect(added["record"]?["name"] == .string("_harepost-challenge.your-app.com"))
            guard case .string(let value) = added["record"]?["value"] else { Issue.record("no value"); return }
            #expect(value.hasPrefix("harepost-verify="))
            for bad in ["", "localhost", "-bad.com", "a..b", "x.y/z"] {
                #expect(
                    await store.failure(
                        "AddDomain",
                        try ProtoMessage("harepost.store.v1.AddDomainRequest", ["domain": .string(bad)])
                    )?.code == .invalidArgument,
                    "\(bad)"
                )
            }
            let list = ProtoJSON.encode(
                try await store.call("ListDomains", try ProtoMessage("harepost.store.v1.ListDomainsRequest"))
            )
            guard case .array(let data) = list["data"] else { Issue.record("no data"); return }
            #expect(data.count == 1)
            #expect(data.first?["verified_at"] == .null)
        }
    }
}

func rpcFailure(_ body: () async throws(RPCError) -> ProtoMessage) async -> RPCError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
