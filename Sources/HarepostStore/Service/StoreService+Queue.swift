import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC
import ServiceLifecycle

extension StoreService {
    static let maximumTasksPerClaim = 1000

    /// Long poll: answers as soon as work is due, or with no tasks when
    /// `wait_ms` (bounded by the call's deadline) runs out.
    func claimDue(_ request: StoreV1.ClaimDueRequest, _ context: RPCContext) async throws -> StoreV1.ClaimDueResponse {
        let requested = request.maxTasks
        guard (1...Int32(Self.maximumTasksPerClaim)).contains(requested) else {
            throw RPCError.invalidArgument("max_tasks must be between 1 and \(Self.maximumTasksPerClaim)")
        }
        let wait = min(Duration.milliseconds(max(0, request.waitMs)), configuration.maximumClaimWait)
        // Answer a little before the caller's deadline so the reply still counts.
        var giveUp = ContinuousClock.now + wait
        if let deadline = context.deadline { giveUp = min(giveUp, deadline - .milliseconds(200)) }
        while true {
            let generation = due.generation
            let now = self.now
            let leased = try await engine.claimDue(
                now: now,
                limit: Int(requested),
                leaseMarginMilliseconds: configuration.leaseMarginMilliseconds,
                workerID: request.workerID
            )
            let remaining = giveUp - .now
            if !leased.isEmpty || remaining <= .zero || Task.isCancelled || Task.isShuttingDownGracefully {
                var response = StoreV1.ClaimDueResponse()
                response.tasks = leased.map(Self.task)
                return response
            }
            // Sleep until the next delivery (or lease expiry) is due, a send arrives, or time is up.
            var nap = min(remaining, engine.maximumNap ?? remaining)
            if let next = try await engine.nextDueTime(now: now) {
                nap = min(nap, .milliseconds(max(1, next - now)))
            }
            // A draining store answers its long polls at once, so it can stop.
            let napTime = nap
            _ = await cancelWhenGracefulShutdown { await self.due.wait(since: generation, atMost: napTime) }
        }
    }

    static func task(_ leased: LeasedDelivery) -> StoreV1.DeliveryTask {
        let delivery = leased.delivery
        var policy = StoreV1.DeliveryPolicy()
        policy.maxAttempts = delivery.policy.maxAttempts
        policy.backoff = delivery.policy.backoff
        policy.baseDelayMs = delivery.policy.baseDelayMilliseconds
        policy.maxDelayMs = delivery.policy.maxDelayMilliseconds
        policy.jitter = delivery.policy.jitter
        policy.timeoutMs = delivery.policy.timeoutMilliseconds
        policy.respectRetryAfter = delivery.policy.respectRetryAfter
        var task = StoreV1.DeliveryTask()
        task.queueID = delivery.queueID
        task.accountID = delivery.tenant.accountID
        task.environment = delivery.tenant.environment
        task.leaseID = leased.leaseID
        task.leaseExpiresAt = GoogleProtobuf.Timestamp(unixMilliseconds: leased.leaseExpiresAt)
        task.attemptNumber = Int32(clamping: leased.attemptNumber)
        task.triggerType = delivery.nextTrigger
        task.target = delivery.target
        task.method = delivery.method
        task.headers = HeaderJSON.decode(delivery.headersJSON)
        task.body = delivery.body
        task.idempotencyKey = delivery.idempotencyKey
        task.sign = delivery.sign
        task.delivery = policy
        task.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: delivery.createdAt)
        task.requestID = delivery.requestID
        return task
    }

    static let maximumRecordedResponseBody = 4096
    static let terminalOrRetrying: Set<StoreV1.DeliveryStatus> = [.retrying, .delivered, .rejected, .deadLetter]

    /// Records one attempt and the delivery's new status in one transaction,
    /// only under the caller's valid lease.
    func recordAttempt(_ request: StoreV1.RecordAttemptRequest, _ context: RPCContext) async throws
        -> StoreV1.RecordAttemptResponse
    {
        let queueID = request.queueID
        guard let attempt = request.attempt, attempt.outcome != .unspecified else {
            throw RPCError.invalidArgument("attempt.outcome is required")
        }
        let newStatus = request.newStatus
        guard Self.terminalOrRetrying.contains(newStatus) else {
            throw RPCError.invalidArgument("new_status must be retrying, delivered, rejected or dead_letter")
        }
        let nextAttemptAt = request.nextAttemptAt?.unixMilliseconds
        guard newStatus != .retrying || nextAttemptAt != nil else {
            throw RPCError.invalidArgument("next_attempt_at is required when new_status is retrying")
        }
        func json(_ map: [String: String]) -> String? { map.isEmpty ? nil : HeaderJSON.encode(map) }
        let report = AttemptReport(
            outcome: attempt.outcome,
            httpStatus: attempt.httpStatus.map(Int64.init),
            durationMilliseconds: attempt.durationMs,
            error: attempt.error,
            requestURL: attempt.requestURL,
            requestMethod: attempt.requestMethod,
            requestHeadersJSON: json(attempt.requestHeaders),
            requestBodySize: attempt.requestBodySize,
            responseHeadersJSON: json(attempt.responseHeaders),
            responseBody: attempt.responseBody.isEmpty
                ? nil : String(decoding: attempt.responseBody.prefix(Self.maximumRecordedResponseBody), as: UTF8.self),
            newStatus: newStatus,
            nextAttemptAt: newStatus == .retrying ? nextAttemptAt : nil
        )
        let status: StoreV1.DeliveryStatus
        do {
            status = try await engine.record(report, queueID: queueID, leaseID: request.leaseID, now: now)
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(queueID)")
        }
        if status == .retrying { due.notify() }
        var response = StoreV1.RecordAttemptResponse()
        response.status = status
        return response
    }
}
