import CoreMetrics
import Foundation
import HarepostJSON
import HarepostProto
import HarepostRPC
import Logging
import NIOCore
import NIOHTTP1

/// Serves every route of the ``RouteMap`` with one generic path: authenticate,
/// rate-limit, turn path, query and JSON body into the request message, call
/// the backend, and render the response message (or error) as JSON. There is
/// no per-route code: a route is a proto RPC plus a config entry.
struct RouteBridge: Sendable {
    let map: RouteMap
    let backends: GatewayBackends
    let authenticator: Authenticator
    let limiter: RateLimiter
    /// `harepost_http_request_duration_seconds{route, status}`.
    let requests: MetricFamily<CoreMetrics.Timer>
    let configuration: GatewayApplication.Configuration
    let logger: Logger

    static let requestIDHeader = "x-request-id"

    /// The answer for a request on one of the map's paths; nil for a path
    /// the map does not have.
    func respond(to request: GatewayRequest) async -> GatewayResponse? {
        switch map.match(method: request.method.rawValue, path: request.path) {
        case .notFound:
            return nil
        case .methodNotAllowed(let allowed):
            var response = JSONResponse.error(
                .methodNotAllowed,
                "method not allowed",
                detail: "\(request.path) accepts \(allowed.joined(separator: ", "))"
            )
            response.headers.add(name: "allow", value: allowed.joined(separator: ", "))
            return response
        case .route(let route, let pathValues):
            let started = ContinuousClock.now
            let requestID =
                request.headers.first(name: Self.requestIDHeader).flatMap { $0.utf8.count <= 128 ? $0 : nil }
                ?? RequestIDs.next()
            // Metadata is built only for a line actually written: setting it on
            // a Logger copies its dictionary, a cost every request would pay
            // for lines that are rarely written.
            func logMetadata(_ extra: Logger.Metadata) -> Logger.Metadata {
                extra.merging(["request.id": "\(requestID)", "route": "\(route.name)"]) { $1 }
            }
            var response: GatewayResponse
            do throws(GatewayError) {
                response = try await serve(route, pathValues: pathValues, request: request, requestID: requestID)
            } catch {
                response = error.response(route: route)
                if error.status.code >= 500 {
                    logger.warning("request failed", metadata: logMetadata(["error": "\(error.logDescription)"]))
                }
            }
            response.headers.replaceOrAdd(name: Self.requestIDHeader, value: requestID)
            let elapsed = ContinuousClock.now - started
            requests([route.name, "\(response.status.code)"]).recordNanoseconds(elapsed.nanoseconds)
            if logger.logLevel <= .debug {
                logger.debug(
                    "request served",
                    metadata: logMetadata([
                        "http.status": "\(response.status.code)", "http.duration_us": "\(elapsed.nanoseconds / 1000)",
                    ])
                )
            }
            return response
        }
    }

    func serve(
        _ route: RouteMap.Route,
        pathValues: [(field: FieldDescriptor, text: String)],
        request: GatewayRequest,
        requestID: String
    ) async throws(GatewayError) -> GatewayResponse {
        var metadata = [RPCMetadataKey.requestID: requestID, RPCMetadataKey.origin: "public"]
        if route.requiresKey {
            let principal = try await authenticate(request, requestID: requestID)
            metadata[RPCMetadataKey.accountID] = principal.accountID
            metadata[RPCMetadataKey.environment] = principal.environment
            if let retryAfter = limiter.admit(
                principal.accountID,
                limit: principal.rateLimitPerMinute,
                nowMilliseconds: Date().unixMilliseconds
            ) {
                throw .rateLimited(limit: principal.rateLimitPerMinute, retryAfterSeconds: retryAfter)
            }
        }
        let message = try await requestMessage(route, pathValues: pathValues, request: request)
        guard let client = backends.client(route.backend) else { throw .rpc(.unavailable("no backend")) }
        let reply: ProtoMessage
        do {
            reply = try await client.call(
                route.method.path,
                message,
                options: RPCCallOptions(timeout: configuration.backendTimeout, metadata: metadata)
            )
        } catch {
            throw .rpc(error)
        }
        let body = route.responseField.map { reply.message($0.name) ?? ProtoMessage($0.messageType!) } ?? reply
        return JSONResponse.make(HTTPResponseStatus(statusCode: route.successStatus), ProtoJSON.encode(body))
    }

    func authenticate(_ request: GatewayRequest, requestID: String) async throws(GatewayError) -> Principal {
        var key = request.headers.first(name: "x-api-key")
        if let authorization = request.headers.first(name: "authorization") {
            guard let token = Self.bearerToken(authorization) else {
                throw .unauthenticated("the Authorization header must be Bearer <API key>")
            }
            key = token
        }
        guard let key, !key.isEmpty else {
            throw .unauthenticated("send your API key as Authorization: Bearer <key> or X-API-Key: <key>")
        }
        do throws(RPCError) {
            return try await authenticator.principal(for: key, requestID: requestID)
        } catch  where error.code == .unauthenticated || error.code == .invalidArgument {
            throw .unauthenticated("the API key is unknown or revoked")
        } catch {
            throw .rpc(error)
        }
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, blanks around
    /// the token ignored); nil for any other scheme. Byte-wise: header values
    /// are ASCII, and Foundation's trimming costs more than the rest of the check.
    static func bearerToken(_ authorization: String) -> String? {
        let bytes = authorization.utf8
        guard let space = bytes.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let scheme = bytes[..<space]
        guard scheme.count == 6, zip(scheme, "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var token = bytes[bytes.index(after: space)...]
        while let first = token.first, isBlank(first) { token = token.dropFirst() }
        while let last = token.last, isBlank(last) { token = token.dropLast() }
        return String(Substring(token))
    }

    /// The request message: the JSON body (when the route binds it), then the
    /// path variables and query parameters on top.
    func requestMessage(
        _ route: RouteMap.Route,
        pathValues: [(field: FieldDescriptor, text: String)],
        request: GatewayRequest
    ) async throws(GatewayError) -> ProtoMessage {
        var message = ProtoMessage(route.method.input)
        if route.bindsBody, request.body.readableBytes > 0 {
            // The HTTP handler has already held the body to the size limit.
            do {
                message = try ProtoJSON.decode(request.body.readableBytesView, as: route.method.input)
            } catch {
                throw .badRequest(
                    error.field.isEmpty ? error.reason : "invalid field \(error.field)",
                    detail: error.field.isEmpty ? nil : error.description
                )
            }
        }
        for (field, text) in pathValues {
            do {
                try message.set(field.name, try ProtoJSON.decodeText(text, for: field, path: field.name))
            } catch {
                throw .notFound("no such \(field.name): \(text)")
            }
        }
        var seen: Set<String> = []
        for (parameter, text) in request.queryParameters {
            guard let field = route.query[parameter] else { continue }
            guard seen.insert(parameter).inserted else {
                throw .badRequest(
                    "invalid query parameter \(parameter)",
                    detail: "\(parameter) is given more than once"
                )
            }
            do {
                try message.set(field.name, try ProtoJSON.decodeText(text, for: field, path: parameter))
            } catch let error as JSONBridgeError {
                throw .badRequest("invalid query parameter \(parameter)", detail: error.description)
            } catch {
                throw .badRequest("invalid query parameter \(parameter)", detail: "\(error)")
            }
        }
        return message
    }
}
