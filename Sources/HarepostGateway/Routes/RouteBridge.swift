import CoreMetrics
import Foundation
import HarepostJSON
import HarepostMetrics
import HarepostProto
import HarepostRPC
import HarepostTime
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
    let requests: MetricFamily<NamedStatus, CoreMetrics.Timer>
    let configuration: GatewayApplication.Configuration
    let logger: Logger

    static let requestIDHeader = "x-request-id"

    /// The answer for a request on one of the map's paths; nil for a path
    /// the map does not have.
    func respond(to request: GatewayRequest) async -> GatewayResponse? {
        let serving: Serving
        switch begin(request) {
        case nil: return nil
        case .answered(let response)?: return response
        case .route(let matched)?: serving = matched
        }
        let outcome: Result<ProtoMessage, GatewayError>
        do throws(GatewayError) {
            var principal: Principal?
            if serving.route.requiresKey {
                principal = try await authenticate(request, requestID: serving.requestID)
            }
            let call = try prepareCall(serving, request: request, principal: principal)
            do throws(RPCError) {
                outcome = .success(
                    try await call.client.call(serving.route.method.path, call.message, options: call.options)
                )
            } catch {
                throw .rpc(error)
            }
        } catch {
            outcome = .failure(error)
        }
        return finish(serving, outcome)
    }

    /// Serves the request with no task when it needs no suspension but its
    /// backend call: the API key's principal is cached (or none is needed),
    /// and the call's reply comes back on the event loop that made it
    /// (``RPCClientGroup``). `completion` gets the answer (nil for a path the
    /// map does not have), possibly before this returns. False, and
    /// `completion` is not called, when the request needs ``respond(to:)``.
    func respondWithoutTask(
        to request: GatewayRequest,
        completion: @escaping @Sendable (GatewayResponse?) -> Void
    ) -> Bool {
        let serving: Serving
        switch begin(request) {
        case nil:
            completion(nil)
            return true
        case .answered(let response)?:
            completion(response)
            return true
        case .route(let matched)?:
            serving = matched
        }
        do throws(GatewayError) {
            var principal: Principal?
            if serving.route.requiresKey {
                guard let cached = try cachedPrincipal(request) else { return false }
                principal = cached
            }
            let call = try prepareCall(serving, request: request, principal: principal)
            call.client.call(serving.route.method.path, call.message, options: call.options) { result in
                completion(finish(serving, result.mapError { GatewayError.rpc($0) }))
            }
        } catch {
            completion(finish(serving, .failure(error)))
        }
        return true
    }

    /// A request matched to a route, being served.
    struct Serving: Sendable {
        let route: RouteMap.Route
        let pathValues: [(field: FieldDescriptor, text: String)]
        let requestID: String
        let started: ContinuousClock.Instant
    }

    enum Begun: Sendable {
        /// Answered by the map alone (a method the path does not accept).
        case answered(GatewayResponse)
        case route(Serving)
    }

    /// Matches the request; nil for a path the map does not have.
    private func begin(_ request: GatewayRequest) -> Begun? {
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
            return .answered(response)
        case .route(let route, let pathValues):
            let started = ContinuousClock.now
            let requestID =
                request.headers.first(name: Self.requestIDHeader).flatMap { $0.utf8.count <= 128 ? $0 : nil }
                ?? RequestIDs.next()
            return .route(Serving(route: route, pathValues: pathValues, requestID: requestID, started: started))
        }
    }

    /// What goes to the backend.
    struct Call {
        let client: any RPCCaller
        let message: ProtoMessage
        let options: RPCCallOptions
    }

    /// The rate limit, the request message and the call's metadata, for a
    /// request whose principal (when its route needs one) is known.
    private func prepareCall(
        _ serving: Serving,
        request: GatewayRequest,
        principal: Principal?
    ) throws(GatewayError) -> Call {
        var metadata = [RPCMetadataKey.requestID: serving.requestID, RPCMetadataKey.origin: "public"]
        if let principal {
            metadata[RPCMetadataKey.accountID] = principal.accountID
            metadata[RPCMetadataKey.environment] = principal.environment
            if let retryAfter = limiter.admit(
                principal.accountID,
                limit: principal.rateLimitPerMinute,
                nowMilliseconds: configuration.clock.unixMilliseconds
            ) {
                throw .rateLimited(limit: principal.rateLimitPerMinute, retryAfterSeconds: retryAfter)
            }
        }
        let message = try requestMessage(serving.route, pathValues: serving.pathValues, request: request)
        guard let client = backends.client(serving.route.backend) else { throw .rpc(.unavailable("no backend")) }
        return Call(
            client: client,
            message: message,
            options: RPCCallOptions(timeout: configuration.backendTimeout, metadata: metadata)
        )
    }

    /// The answer for the backend's reply or the error on the way: the
    /// response message (or error) as JSON, the request id, the metrics and
    /// the logs.
    private func finish(_ serving: Serving, _ outcome: Result<ProtoMessage, GatewayError>) -> GatewayResponse {
        let route = serving.route
        let requestID = serving.requestID
        // Metadata is built only for a line actually written: setting it on
        // a Logger copies its dictionary, a cost every request would pay
        // for lines that are rarely written.
        func logMetadata(_ extra: Logger.Metadata) -> Logger.Metadata {
            extra.merging(["request.id": "\(requestID)", "route": "\(route.name)"]) { $1 }
        }
        var response: GatewayResponse
        switch outcome {
        case .success(let reply):
            let body = route.responseField.map { reply.message($0.name) ?? ProtoMessage($0.messageType!) } ?? reply
            response = JSONResponse.make(HTTPResponseStatus(statusCode: route.successStatus), body)
        case .failure(let error):
            response = error.response(route: route)
            if error.status.code >= 500 {
                logger.warning("request failed", metadata: logMetadata(["error": "\(error.logDescription)"]))
            }
        }
        response.headers.replaceOrAdd(name: Self.requestIDHeader, value: requestID)
        let elapsed = ContinuousClock.now - serving.started
        requests(NamedStatus(route.name, status: Int(response.status.code))).recordNanoseconds(elapsed.nanoseconds)
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

    func authenticate(_ request: GatewayRequest, requestID: String) async throws(GatewayError) -> Principal {
        let key = try Self.apiKey(request)
        do throws(RPCError) {
            return try await authenticator.principal(for: key, requestID: requestID)
        } catch  where error.code == .unauthenticated || error.code == .invalidArgument {
            throw .unauthenticated("the API key is unknown or revoked")
        } catch {
            throw .rpc(error)
        }
    }

    /// The request's API key's principal when the authenticator has it
    /// cached; nil when only auth can tell.
    private func cachedPrincipal(_ request: GatewayRequest) throws(GatewayError) -> Principal? {
        authenticator.cachedPrincipal(for: try Self.apiKey(request))
    }

    /// The API key the request carries, or 401.
    static func apiKey(_ request: GatewayRequest) throws(GatewayError) -> String {
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
        return key
    }

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

    func requestMessage(
        _ route: RouteMap.Route,
        pathValues: [(field: FieldDescriptor, text: String)],
        request: GatewayRequest
    ) throws(GatewayError) -> ProtoMessage {
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
