import Foundation
import HarepostProto
import HarepostRPC

extension StoreService {
    static let defaultPageSize = 25
    static let defaultAttemptPageSize = 50
    static let maximumPageSize = 100

    func getDelivery(_ request: ProtoMessage, _ context: RPCContext) throws -> ProtoMessage {
        let tenant = try tenant(context)
        let queueID = request.string("queue_id") ?? ""
        let (delivery, attempts): (DeliveryRecord, [AttemptRecord])
        do {
            (delivery, attempts) = try engine.delivery(queueID, tenant: tenant)
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(queueID)")
        }
        var message = try ProtoMessage(
            "harepost.store.v1.Delivery",
            [
                "queue_id": .string(delivery.queueID), "target": .string(delivery.target),
                "method": .string(delivery.method),
                "last_status": delivery.lastStatus.map { .int32(Int32(clamping: $0)) },
                "idempotency_key": delivery.idempotencyKey.map(ProtoValue.string),
                "created_at": .timestamp(unixMilliseconds: delivery.createdAt),
                "updated_at": .timestamp(unixMilliseconds: delivery.updatedAt),
            ]
        )
        try message.set("status", enumName: delivery.status)
        try message.set(
            "attempts",
            values: try attempts.map { attempt in
                var entry = try ProtoMessage(
                    "harepost.store.v1.Attempt",
                    [
                        "attempt": .int32(Int32(clamping: attempt.attemptNumber)),
                        "http_status": attempt.httpStatus.map { .int32(Int32(clamping: $0)) },
                        "latency_ms": attempt.durationMilliseconds.map(ProtoValue.int64),
                        "error": attempt.error.map(ProtoValue.string),
                        "created_at": .timestamp(unixMilliseconds: attempt.createdAt),
                    ]
                )
                try entry.set("outcome", enumName: attempt.outcome)
                return .message(entry)
            }
        )
        return try ProtoMessage("harepost.store.v1.GetDeliveryResponse", ["delivery": .message(message)])
    }

    func listDeliveries(_ request: ProtoMessage, _ context: RPCContext) throws -> ProtoMessage {
        let tenant = try tenant(context)
        let limit = try Self.pageSize(request, default: Self.defaultPageSize)
        let before = try request.string("cursor").map(DeliveryCursor.decode)
        let status = request.has("status") ? request.enumName("status") : nil
        // One extra row says whether another page exists.
        let records = try engine.deliveries(tenant: tenant, status: status, before: before, limit: limit + 1)
        let page = records.prefix(limit)
        var response = try ProtoMessage(
            "harepost.store.v1.ListDeliveriesResponse",
            ["next_cursor": records.count > limit ? page.last.map { .string(DeliveryCursor.encode($0.seq)) } : nil]
        )
        try response.set("data", values: try page.map { .message(try Self.summary($0)) })
        return response
    }

    static func summary(_ delivery: DeliveryRecord) throws -> ProtoMessage {
        var summary = try ProtoMessage(
            "harepost.store.v1.DeliverySummary",
            [
                "queue_id": .string(delivery.queueID), "target": .string(delivery.target),
                "method": .string(delivery.method),
                "attempts": .int32(Int32(clamping: delivery.attempts)),
                "last_status": delivery.lastStatus.map { .int32(Int32(clamping: $0)) },
                "idempotency_key": delivery.idempotencyKey.map(ProtoValue.string),
                "created_at": .timestamp(unixMilliseconds: delivery.createdAt),
                "updated_at": .timestamp(unixMilliseconds: delivery.updatedAt),
            ]
        )
        try summary.set("status", enumName: delivery.status)
        return summary
    }

    func retryDelivery(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let tenant = try tenant(context)
        let queueID = request.string("queue_id") ?? ""
        do {
            let record = try await engine.retry(queueID, tenant: tenant, now: now)
            due.notify()
            return try ProtoMessage(
                "harepost.store.v1.RetryDeliveryResponse",
                ["delivery": .message(try Self.summary(record))]
            )
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(queueID)")
        }
    }

    func listDeliveryAttempts(_ request: ProtoMessage, _ context: RPCContext) async throws -> ProtoMessage {
        let tenant = try tenant(context)
        let limit = try Self.pageSize(request, default: Self.defaultAttemptPageSize)
        let offset = Int(request.int64("offset") ?? 0)
        guard offset >= 0 else { throw RPCError.invalidArgument("offset must not be negative") }
        var filter = AttemptFilter()
        filter.eventID = request.string("event_id").flatMap { request.has("event_id") ? $0 : nil }
        filter.connectionID = request.has("connection_id") ? request.string("connection_id") : nil
        filter.destinationID = request.has("destination_id") ? request.string("destination_id") : nil
        filter.outcome = request.has("status") ? request.enumName("status") : nil
        if request.has("is_dlq") {
            switch request.int64("is_dlq") {
            case 1: filter.isDLQ = true
            case 0: filter.isDLQ = false
            default: throw RPCError.invalidArgument("is_dlq must be 1 (dead-lettered only) or 0")
            }
        }
        let (records, total) = try await engine.attempts(tenant: tenant, filter: filter, limit: limit, offset: offset)
        var response = try ProtoMessage("harepost.store.v1.ListDeliveryAttemptsResponse")
        try response.set("delivery_attempts", values: try records.map { .message(try Self.hookstreamAttempt($0)) })
        try response.set(
            "pagination",
            .message(
                try ProtoMessage(
                    "harepost.store.v1.Pagination",
                    [
                        "total": .int64(total), "limit": .int32(Int32(limit)),
                        "offset": .int32(Int32(clamping: offset)),
                        "has_more": .bool(Int64(offset + records.count) < total),
                    ]
                )
            )
        )
        return response
    }

    static func hookstreamAttempt(_ attempt: AttemptRecord) throws -> ProtoMessage {
        var message = try ProtoMessage(
            "harepost.store.v1.DeliveryAttempt",
            [
                "id": .string(attempt.id), "org_id": .string(attempt.tenant.accountID),
                "event_id": .string(attempt.queueID),
                "connection_id": .string(attempt.connectionID), "destination_id": .string(attempt.destinationID),
                "request_url": .string(attempt.requestURL), "request_method": .string(attempt.requestMethod),
                "request_headers": attempt.requestHeadersJSON.map(ProtoValue.string),
                "request_body_size": .int64(attempt.requestBodySize),
                "response_status": attempt.httpStatus.map { .int32(Int32(clamping: $0)) },
                "response_headers": attempt.responseHeadersJSON.map(ProtoValue.string),
                "response_body": attempt.responseBody.map(ProtoValue.string),
                "duration_ms": attempt.durationMilliseconds.map(ProtoValue.int64),
                "error": attempt.error.map(ProtoValue.string),
                "created_at": .timestamp(unixMilliseconds: attempt.createdAt),
                "attempt_number": .int32(Int32(clamping: attempt.attemptNumber)),
                "next_retry_at": attempt.nextRetryAt.map { .timestamp(unixMilliseconds: $0) },
                "is_dlq": .int32(attempt.isDLQ ? 1 : 0),
                "dlq_at": attempt.dlqAt.map { .timestamp(unixMilliseconds: $0) },
                "connection_name": .string(attempt.connectionName),
                "destination_name": .string(attempt.destinationName),
            ]
        )
        try message.set("env_id", enumName: attempt.tenant.environment)
        try message.set("status", enumName: attempt.outcome)
        try message.set("trigger_type", enumName: attempt.triggerType)
        return message
    }

    /// `limit` within 1-100 (INVALID_ARGUMENT otherwise), `fallback` when absent.
    static func pageSize(_ request: ProtoMessage, default fallback: Int) throws(RPCError) -> Int {
        guard request.has("limit") else { return fallback }
        let limit = request.int64("limit") ?? 0
        guard (1...Int64(maximumPageSize)).contains(limit) else {
            throw .invalidArgument("limit must be between 1 and \(maximumPageSize)")
        }
        return Int(limit)
    }
}

/// The opaque `next_cursor` of the deliveries list: the keyset position (the
/// delivery's sequence number) of the last item, base64url-encoded. Newer sends
/// get higher positions, so pages stay stable while sends arrive.
enum DeliveryCursor {
    static func encode(_ seq: Int64) -> String {
        Data("d1:\(seq)".utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) throws(RPCError) -> Int64 {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
            text.hasPrefix("d1:"), let seq = Int64(text.dropFirst(3)), seq > 0
        else { throw .invalidArgument("cursor is not a next_cursor from this API") }
        return seq
    }
}
