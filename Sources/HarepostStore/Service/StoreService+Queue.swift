import Foundation
import HarepostProto
import HarepostRPC
import ServiceLifecycle

extension StoreService {
    static let maximumTasksPerClaim = 1000

    /// Long poll: answers as soon as work is due, or with no tasks when
    /// `wait_ms` (bounded by the call's deadline) runs out.
    func claimDue(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let requested = request.int64("max_tasks") ?? 0
        guard (1...Int64(Self.maximumTasksPerClaim)).contains(requested) else {
            throw RPCError.invalidArgument("max_tasks must be between 1 and \(Self.maximumTasksPerClaim)")
        }
        let wait = min(Duration.milliseconds(max(0, request.int64("wait_ms") ?? 0)), configuration.maximumClaimWait)
        // Answer a little before the caller's deadline so the reply still counts.
        var giveUp = ContinuousClock.now + wait
        if let deadline = context.deadline { giveUp = min(giveUp, deadline - .milliseconds(200)) }
        while true {
            let generation = due.generation
            let now = self.now
            let leased = try await engine.claimDue(
                now: now,
                limit: Int(requested),
                leaseMarginMilliseconds: configuration.leaseMarginMilliseconds
            )
            let remaining = giveUp - .now
            if !leased.isEmpty || remaining <= .zero || Task.isCancelled || Task.isShuttingDownGracefully {
                var response = try ProtoMessage("harepost.store.v1.ClaimDueResponse")
                try response.set("tasks", values: try leased.map { .message(try Self.task($0)) })
                return response
            }
            // Sleep until the next delivery (or lease expiry) is due, a send arrives, or time is up.
            var nap = remaining
            if let next = try await engine.nextDueTime(now: now) {
                nap = min(nap, .milliseconds(max(1, next - now)))
            }
            // A draining store answers its long polls at once, so it can stop.
            let napTime = nap
            _ = await cancelWhenGracefulShutdown { await self.due.wait(since: generation, atMost: napTime) }
        }
    }

    static func task(_ leased: LeasedDelivery) throws -> ProtoMessage {
        let delivery = leased.delivery
        let headers = HeaderJSON.decode(delivery.headersJSON)
        var policy = try ProtoMessage(
            "harepost.store.v1.DeliveryPolicy",
            [
                "max_attempts": .int64(delivery.policy.maxAttempts),
                "base_delay_ms": .int64(delivery.policy.baseDelayMilliseconds),
                "max_delay_ms": .int64(delivery.policy.maxDelayMilliseconds),
                "timeout_ms": .int64(delivery.policy.timeoutMilliseconds),
                "respect_retry_after": .bool(delivery.policy.respectRetryAfter),
            ]
        )
        try policy.set("backoff", enumName: delivery.policy.backoff)
        try policy.set("jitter", enumName: delivery.policy.jitter)
        var task = try ProtoMessage(
            "harepost.store.v1.DeliveryTask",
            [
                "queue_id": .string(delivery.queueID), "account_id": .string(delivery.tenant.accountID),
                "lease_id": .string(leased.leaseID),
                "lease_expires_at": .timestamp(unixMilliseconds: leased.leaseExpiresAt),
                "attempt_number": .int32(Int32(clamping: leased.attemptNumber)), "target": .string(delivery.target),
                "method": .string(delivery.method), "body": .bytes(delivery.body),
                "idempotency_key": delivery.idempotencyKey.map(ProtoValue.string), "sign": .bool(delivery.sign),
                "request_id": delivery.requestID.map(ProtoValue.string),
                "delivery": .message(policy), "created_at": .timestamp(unixMilliseconds: delivery.createdAt),
            ]
        )
        try task.set("environment", enumName: delivery.tenant.environment)
        try task.set("trigger_type", enumName: delivery.nextTrigger)
        try task.set("headers", stringMap: headers)
        return task
    }

    static let maximumRecordedResponseBody = 4096
    static let terminalOrRetrying: Set<String> = ["retrying", "delivered", "rejected", "dead_letter"]

    /// Records one attempt and the delivery's new status in one transaction,
    /// only under the caller's valid lease.
    func recordAttempt(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let queueID = request.string("queue_id") ?? ""
        let leaseID = request.string("lease_id") ?? ""
        guard let attempt = request.message("attempt"), let outcome = attempt.enumName("outcome"),
            outcome != "unspecified"
        else {
            throw RPCError.invalidArgument("attempt.outcome is required")
        }
        guard let newStatus = request.enumName("new_status"), Self.terminalOrRetrying.contains(newStatus) else {
            throw RPCError.invalidArgument("new_status must be retrying, delivered, rejected or dead_letter")
        }
        let nextAttemptAt = request.message("next_attempt_at")?.unixMilliseconds
        guard newStatus != "retrying" || nextAttemptAt != nil else {
            throw RPCError.invalidArgument("next_attempt_at is required when new_status is retrying")
        }
        func json(_ map: [String: String]) -> String? { map.isEmpty ? nil : HeaderJSON.encode(map) }
        let responseBody = attempt["response_body"]?.bytesValue.map { bytes in
            String(decoding: bytes.prefix(Self.maximumRecordedResponseBody), as: UTF8.self)
        }
        let report = AttemptReport(
            outcome: outcome,
            httpStatus: attempt.has("http_status") ? attempt.int64("http_status") : nil,
            durationMilliseconds: attempt.has("duration_ms") ? attempt.int64("duration_ms") : nil,
            error: attempt.has("error") ? attempt.string("error") : nil,
            requestURL: attempt.string("request_url") ?? "",
            requestMethod: attempt.string("request_method") ?? "",
            requestHeadersJSON: json(attempt.stringMap("request_headers")),
            requestBodySize: attempt.int64("request_body_size") ?? 0,
            responseHeadersJSON: json(attempt.stringMap("response_headers")),
            responseBody: attempt.has("response_body") ? responseBody : nil,
            newStatus: newStatus,
            nextAttemptAt: newStatus == "retrying" ? nextAttemptAt : nil
        )
        let status: String
        do {
            status = try await engine.record(report, queueID: queueID, leaseID: leaseID, now: now)
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(queueID)")
        }
        if status == "retrying" { due.notify() }
        var response = try ProtoMessage("harepost.store.v1.RecordAttemptResponse")
        try response.set("status", enumName: status)
        return response
    }
}
