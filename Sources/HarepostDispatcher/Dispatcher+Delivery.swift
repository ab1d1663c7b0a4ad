import Foundation
import HarepostCurl
import HarepostProto
import HarepostRPC
import HarepostRetryPolicy
import HarepostTime
import Logging
import NIOConcurrencyHelpers

extension Dispatcher {
    /// One attempt of one task, from request to recorded result.
    func deliver(_ task: DeliveryTask) async {
        DispatcherMetrics.recordInFlight(
            statistics.withLockedValue {
                $0.inFlight += 1; return $0.inFlight
            }
        )
        defer {
            DispatcherMetrics.recordInFlight(
                statistics.withLockedValue {
                    $0.inFlight -= 1; return $0.inFlight
                }
            )
        }
        var logger = self.logger
        logger[metadataKey: "delivery.id"] = "\(task.queueID)"
        logger[metadataKey: "delivery.attempt"] = "\(task.attemptNumber)"
        if let requestID = task.requestID { logger[metadataKey: "request.id"] = "\(requestID)" }

        let startedAt = configuration.clock.unixMilliseconds
        var signingSecrets: [String]?
        if task.sign {
            do {
                signingSecrets = try await secrets.secrets(accountID: task.accountID, now: startedAt)
            } catch {
                // Never send a requested signature-less request: leave the task to
                // its lease, after which the store offers it again.
                logger.warning(
                    "cannot fetch the signing secret; the delivery is offered again when its lease expires",
                    metadata: ["error": "\(error)"]
                )
                return
            }
        }
        let request = OutboundRequest(
            url: task.target,
            method: task.method,
            headers: OutboundHeaders.make(
                for: task,
                secrets: signingSecrets,
                standardWebhooks: configuration.standardWebhooks,
                unixSeconds: startedAt / 1000
            ),
            body: task.body,
            timeoutMilliseconds: task.timeoutMilliseconds
        )
        let result = await http.execute(request)
        let finishedAt = configuration.clock.unixMilliseconds
        let observed: RetryPolicy.Result
        switch result.outcome {
        case .response(let status):
            let retryAfter = result.header("Retry-After").flatMap {
                RetryAfter.milliseconds($0, nowMilliseconds: finishedAt)
            }
            observed = .response(status: status, retryAfterMilliseconds: retryAfter)
        case .timeout:
            observed = .timeout
        case .connectionError:
            observed = .connectionError
        case .blocked:
            observed = .blocked
        case .cancelled:
            logger.info("attempt abandoned; the delivery is offered again when its lease expires")
            return
        }
        let decision = task.policy.decide(
            after: task.attemptNumber,
            result: observed,
            random: Double.random(in: 0..<1)
        )
        statistics.withLockedValue {
            if decision.outcome == "delivered" { $0.attemptsDelivered += 1 } else { $0.attemptsFailed += 1 }
        }
        DispatcherMetrics.recordAttempt(status: decision.newStatus, milliseconds: result.durationMilliseconds)
        logger.debug(
            "attempt finished",
            metadata: [
                "attempt.outcome": "\(decision.outcome)", "delivery.status": "\(decision.newStatus)",
                "http.status": "\(result.statusCode.map(String.init) ?? "none")",
                "duration_ms": "\(result.durationMilliseconds)",
            ]
        )
        do {
            let record = try Self.recordRequest(
                task: task,
                request: request,
                result: result,
                decision: decision,
                startedAt: startedAt,
                finishedAt: finishedAt
            )
            await self.record(record, task: task, logger: logger)
        } catch {
            logger.error("cannot build the attempt record", metadata: ["error": "\(error)"])
        }
    }

    static func recordRequest(
        task: DeliveryTask,
        request: OutboundRequest,
        result: OutboundResult,
        decision: RetryPolicy.Decision,
        startedAt: UnixMilliseconds,
        finishedAt: UnixMilliseconds
    ) throws -> ProtoMessage {
        var attempt = try ProtoMessage(
            "harepost.store.v1.AttemptRecord",
            [
                "http_status": result.statusCode.map { .int32(Int32(clamping: $0)) },
                "duration_ms": .int64(max(result.durationMilliseconds, 0)),
                "error": result.error.map(ProtoValue.string),
                "request_url": .string(request.url),
                "request_method": .string(request.method),
                "request_body_size": .int64(Int64(request.body.count)),
                "response_body": result.statusCode == nil ? nil : .bytes(result.responseBody),
                "started_at": .timestamp(unixMilliseconds: startedAt),
            ]
        )
        try attempt.set("outcome", enumName: decision.outcome)
        try attempt.set("request_headers", stringMap: Self.headerMap(request.headers))
        try attempt.set("response_headers", stringMap: Self.headerMap(result.responseHeaders))
        var record = try ProtoMessage(
            "harepost.store.v1.RecordAttemptRequest",
            [
                "queue_id": .string(task.queueID),
                "lease_id": .string(task.leaseID),
                "attempt": .message(attempt),
                "next_attempt_at": decision.delayMilliseconds.map {
                    .timestamp(unixMilliseconds: finishedAt + $0)
                },
            ]
        )
        try record.set("new_status", enumName: decision.newStatus)
        return record
    }

    /// Repeated names (e.g. two `Set-Cookie`) are joined with ", " as HTTP allows.
    static func headerMap(_ headers: [(name: String, value: String)]) -> [String: String] {
        var map: [String: String] = [:]
        for (name, value) in headers {
            map[name] = map[name].map { "\($0), \(value)" } ?? value
        }
        return map
    }

    /// Records the attempt, retrying while the store is unreachable until the
    /// lease would expire: a result is never dropped while it can still count.
    func record(_ request: ProtoMessage, task: DeliveryTask, logger: Logger) async {
        var backoff = Duration.milliseconds(50)
        var pending = false
        defer { if pending { statistics.withLockedValue { $0.pendingRecords -= 1 } } }
        while true {
            do {
                _ = try await store.call(
                    "harepost.store.v1.Store/RecordAttempt",
                    request,
                    options: RPCCallOptions(
                        timeout: .seconds(5),
                        metadata: task.requestID.map { [RPCMetadataKey.requestID: $0] } ?? [:]
                    )
                )
                if pending { logger.info("attempt recorded after the store came back") }
                return
            } catch let error where error.code == .failedPrecondition || error.code == .notFound {
                logger.warning(
                    "attempt not recorded: the lease was lost; the store has offered the delivery again",
                    metadata: ["error": "\(error.message)"]
                )
                return
            } catch {
                let remaining = task.leaseExpiresAt - configuration.clock.unixMilliseconds
                guard remaining > 0, !Task.isCancelled else {
                    logger.error(
                        "attempt not recorded before its lease expired; the store offers the delivery again",
                        metadata: ["error": "\(error)"]
                    )
                    return
                }
                if !pending {
                    pending = true
                    statistics.withLockedValue { $0.pendingRecords += 1 }
                    logger.warning(
                        "cannot record the attempt; keeping it and retrying until the lease expires",
                        metadata: ["error": "\(error)", "lease.remaining_ms": "\(remaining)"]
                    )
                }
                try? await Task.sleep(for: min(backoff, .milliseconds(remaining)))
                backoff = min(backoff * 2, .seconds(1))
            }
        }
    }
}

extension OutboundResult {
    var statusCode: Int? {
        if case .response(let status) = outcome { return status }
        return nil
    }
}
