import Foundation
import HarepostContracts
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
            if decision.outcome == .delivered { $0.attemptsDelivered += 1 } else { $0.attemptsFailed += 1 }
        }
        DispatcherMetrics.recordAttempt(status: decision.newStatus, milliseconds: result.durationMilliseconds)
        logger.debug(
            "attempt finished",
            metadata: [
                "attempt.outcome": "\(decision.outcome.contract.jsonName)",
                "delivery.status": "\(decision.newStatus.contract.jsonName)",
                "http.status": "\(result.statusCode.map(String.init) ?? "none")",
                "duration_ms": "\(result.durationMilliseconds)",
            ]
        )
        let record = Self.recordRequest(
            task: task,
            request: request,
            result: result,
            decision: decision,
            startedAt: startedAt,
            finishedAt: finishedAt
        )
        await self.record(record, task: task, logger: logger)
    }

    static func recordRequest(
        task: DeliveryTask,
        request: OutboundRequest,
        result: OutboundResult,
        decision: RetryPolicy.Decision,
        startedAt: UnixMilliseconds,
        finishedAt: UnixMilliseconds
    ) -> StoreV1.RecordAttemptRequest {
        var attempt = StoreV1.AttemptRecord()
        attempt.outcome = decision.outcome.contract
        attempt.httpStatus = result.statusCode.map { Int32(clamping: $0) }
        attempt.durationMs = max(result.durationMilliseconds, 0)
        attempt.error = result.error
        attempt.requestURL = request.url
        attempt.requestMethod = request.method
        attempt.requestHeaders = Self.headerMap(request.headers)
        attempt.requestBodySize = Int64(request.body.count)
        attempt.responseHeaders = Self.headerMap(result.responseHeaders)
        if result.statusCode != nil { attempt.responseBody = result.responseBody }
        attempt.startedAt = GoogleProtobuf.Timestamp(unixMilliseconds: startedAt)
        var record = StoreV1.RecordAttemptRequest()
        record.queueID = task.queueID
        record.leaseID = task.leaseID
        record.attempt = attempt
        record.newStatus = decision.newStatus.contract
        record.nextAttemptAt = decision.delayMilliseconds.map {
            GoogleProtobuf.Timestamp(unixMilliseconds: finishedAt + $0)
        }
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
    func record(_ request: StoreV1.RecordAttemptRequest, task: DeliveryTask, logger: Logger) async {
        var backoff = Duration.milliseconds(50)
        var pending = false
        defer { if pending { statistics.withLockedValue { $0.pendingRecords -= 1 } } }
        while true {
            do {
                _ = try await store.call(
                    StoreV1.Store.RecordAttempt.self,
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

extension RetryPolicy.Outcome {
    /// The outcome as the contracts name it.
    var contract: StoreV1.AttemptOutcome {
        switch self {
        case .delivered: .delivered
        case .failed: .failed
        case .rejected: .rejected
        case .timeout: .timeout
        case .connectionError: .connectionError
        case .blocked: .blocked
        }
    }
}

extension RetryPolicy.NextStatus {
    /// The status as the contracts name it.
    var contract: StoreV1.DeliveryStatus {
        switch self {
        case .delivered: .delivered
        case .retrying: .retrying
        case .rejected: .rejected
        case .deadLetter: .deadLetter
        }
    }
}
