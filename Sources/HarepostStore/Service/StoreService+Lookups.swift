import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC

extension StoreService {
    static let defaultPageSize = 25
    static let defaultAttemptPageSize = 50
    static let maximumPageSize = 100

    /// GetDelivery on an engine whose point reads answer at once.
    func getDelivery(_ request: StoreV1.GetDeliveryRequest, _ context: RPCContext, _ engine: any ImmediatePointReads)
        throws -> StoreV1.GetDeliveryResponse
    {
        let tenant = try tenant(context)
        do {
            return Self.deliveryResponse(try engine.delivery(request.queueID, tenant: tenant))
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(request.queueID)")
        }
    }

    func getDelivery(_ request: StoreV1.GetDeliveryRequest, _ context: RPCContext) async throws
        -> StoreV1.GetDeliveryResponse
    {
        let tenant = try tenant(context)
        do {
            return Self.deliveryResponse(try await engine.delivery(request.queueID, tenant: tenant))
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(request.queueID)")
        }
    }

    static func deliveryResponse(_ found: (DeliveryRecord, [AttemptRecord])) -> StoreV1.GetDeliveryResponse {
        let (delivery, attempts) = found
        var message = StoreV1.Delivery()
        message.queueID = delivery.queueID
        message.target = delivery.target
        message.method = delivery.method
        message.status = delivery.status
        message.lastStatus = delivery.lastStatus.map { Int32(clamping: $0) }
        message.idempotencyKey = delivery.idempotencyKey
        message.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: delivery.createdAt)
        message.updatedAt = GoogleProtobuf.Timestamp(unixMilliseconds: delivery.updatedAt)
        message.attempts = attempts.map { attempt in
            var entry = StoreV1.Attempt()
            entry.attempt = Int32(clamping: attempt.attemptNumber)
            entry.outcome = attempt.outcome
            entry.httpStatus = attempt.httpStatus.map { Int32(clamping: $0) }
            entry.latencyMs = attempt.durationMilliseconds
            entry.error = attempt.error
            entry.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: attempt.createdAt)
            return entry
        }
        var response = StoreV1.GetDeliveryResponse()
        response.delivery = message
        return response
    }

    /// ListDeliveries on an engine whose point reads answer at once.
    func listDeliveries(
        _ request: StoreV1.ListDeliveriesRequest,
        _ context: RPCContext,
        _ engine: any ImmediatePointReads
    ) throws -> StoreV1.ListDeliveriesResponse {
        let tenant = try tenant(context)
        let (limit, before) = try Self.page(request)
        // One extra row says whether another page exists.
        let records = try engine.deliveries(tenant: tenant, status: request.status, before: before, limit: limit + 1)
        return Self.listResponse(records, limit: limit)
    }

    func listDeliveries(_ request: StoreV1.ListDeliveriesRequest, _ context: RPCContext) async throws
        -> StoreV1.ListDeliveriesResponse
    {
        let tenant = try tenant(context)
        let (limit, before) = try Self.page(request)
        let records = try await engine.deliveries(
            tenant: tenant,
            status: request.status,
            before: before,
            limit: limit + 1
        )
        return Self.listResponse(records, limit: limit)
    }

    static func page(_ request: StoreV1.ListDeliveriesRequest) throws(RPCError) -> (limit: Int, before: Int64?) {
        (try pageSize(request.limit, default: defaultPageSize), try request.cursor.map(DeliveryCursor.decode))
    }

    static func listResponse(_ records: [DeliveryRecord], limit: Int) -> StoreV1.ListDeliveriesResponse {
        let page = records.prefix(limit)
        var response = StoreV1.ListDeliveriesResponse()
        response.data = page.map(Self.summary)
        response.nextCursor = records.count > limit ? page.last.map { DeliveryCursor.encode($0.seq) } : nil
        return response
    }

    static func summary(_ delivery: DeliveryRecord) -> StoreV1.DeliverySummary {
        var summary = StoreV1.DeliverySummary()
        summary.queueID = delivery.queueID
        summary.target = delivery.target
        summary.method = delivery.method
        summary.status = delivery.status
        summary.attempts = Int32(clamping: delivery.attempts)
        summary.lastStatus = delivery.lastStatus.map { Int32(clamping: $0) }
        summary.idempotencyKey = delivery.idempotencyKey
        summary.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: delivery.createdAt)
        summary.updatedAt = GoogleProtobuf.Timestamp(unixMilliseconds: delivery.updatedAt)
        return summary
    }

    func retryDelivery(_ request: StoreV1.RetryDeliveryRequest, _ context: RPCContext) async throws
        -> StoreV1.RetryDeliveryResponse
    {
        let tenant = try tenant(context)
        let queueID = request.queueID
        do {
            let record = try await engine.retry(queueID, tenant: tenant, now: now)
            due.notify()
            var response = StoreV1.RetryDeliveryResponse()
            response.delivery = Self.summary(record)
            return response
        } catch StorageError.notFound {
            throw RPCError.notFound("no delivery \(queueID)")
        }
    }

    func listDeliveryAttempts(_ request: StoreV1.ListDeliveryAttemptsRequest, _ context: RPCContext) async throws
        -> StoreV1.ListDeliveryAttemptsResponse
    {
        let tenant = try tenant(context)
        let limit = try Self.pageSize(request.limit, default: Self.defaultAttemptPageSize)
        let offset = Int(request.offset ?? 0)
        guard offset >= 0 else { throw RPCError.invalidArgument("offset must not be negative") }
        var filter = AttemptFilter()
        filter.eventID = request.eventID
        filter.connectionID = request.connectionID
        filter.destinationID = request.destinationID
        filter.outcome = request.status
        switch request.isDLQ {
        case nil: break
        case 1: filter.isDLQ = true
        case 0: filter.isDLQ = false
        default: throw RPCError.invalidArgument("is_dlq must be 1 (dead-lettered only) or 0")
        }
        let (records, total) = try await engine.attempts(tenant: tenant, filter: filter, limit: limit, offset: offset)
        var pagination = StoreV1.Pagination()
        pagination.total = total
        pagination.limit = Int32(limit)
        pagination.offset = Int32(clamping: offset)
        pagination.hasMore = Int64(offset + records.count) < total
        var response = StoreV1.ListDeliveryAttemptsResponse()
        response.deliveryAttempts = records.map(Self.hookstreamAttempt)
        response.pagination = pagination
        return response
    }

    static func hookstreamAttempt(_ attempt: AttemptRecord) -> StoreV1.DeliveryAttempt {
        var message = StoreV1.DeliveryAttempt()
        message.id = attempt.id
        message.orgID = attempt.tenant.accountID
        message.envID = attempt.tenant.environment
        message.eventID = attempt.queueID
        message.connectionID = attempt.connectionID
        message.destinationID = attempt.destinationID
        message.requestURL = attempt.requestURL
        message.requestMethod = attempt.requestMethod
        message.requestHeaders = attempt.requestHeadersJSON
        message.requestBodySize = attempt.requestBodySize
        message.responseStatus = attempt.httpStatus.map { Int32(clamping: $0) }
        message.responseHeaders = attempt.responseHeadersJSON
        message.responseBody = attempt.responseBody
        message.durationMs = attempt.durationMilliseconds
        message.status = attempt.outcome
        message.error = attempt.error
        message.createdAt = GoogleProtobuf.Timestamp(unixMilliseconds: attempt.createdAt)
        message.attemptNumber = Int32(clamping: attempt.attemptNumber)
        message.nextRetryAt = attempt.nextRetryAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
        message.isDLQ = attempt.isDLQ ? 1 : 0
        message.dlqAt = attempt.dlqAt.map(GoogleProtobuf.Timestamp.init(unixMilliseconds:))
        message.triggerType = attempt.triggerType
        message.connectionName = attempt.connectionName
        message.destinationName = attempt.destinationName
        return message
    }

    /// `limit` within 1-100 (INVALID_ARGUMENT otherwise), `fallback` when absent.
    static func pageSize(_ limit: Int32?, default fallback: Int) throws(RPCError) -> Int {
        guard let limit else { return fallback }
        guard (1...Int32(maximumPageSize)).contains(limit) else {
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
