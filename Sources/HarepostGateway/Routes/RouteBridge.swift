import CoreMetrics
import Foundation
import HTTPTypes
import HarepostJSON
import HarepostProto
import HarepostRPC
import Hummingbird
import Logging
import NIOCore

/// Serves every route of the ``RouteMap`` with one generic path: authenticate,
/// rate-limit, turn path, query and JSON body into the request message, call
/// the backend, and render the response message (or error) as JSON. There is
/// no per-route code: a route is a proto RPC plus a config entry.
struct RouteBridge<Context: RequestContext>: RouterMiddleware {
    let map: RouteMap
    let backends: GatewayBackends
    let authenticator: Authenticator
    let limiter: RateLimiter
    /// `harepost_http_request_duration_seconds{route, status}`.
    let requests: MetricFamily<CoreMetrics.Timer>
    let configuration: GatewayApplication.Configuration

    static var apiKeyHeader: HTTPField.Name { HTTPField.Name("X-API-Key")! }
    static var requestIDHeader: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        switch map.match(method: request.method.rawValue, path: request.uri.path) {
        case .notFound:
            return try await next(request, context)
        case .methodNotAllowed(let allowed):
            var response = JSONResponse.error(
                .methodNotAllowed,
                "method not allowed",
                detail: "\(request.uri.path) accepts \(allowed.joined(separator: ", "))"
            )
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        case .route(let route, let pathValues):
            let started = ContinuousClock.now
            let requestID =
                request.headers[Self.requestIDHeader].flatMap { $0.utf8.count <= 128 ? $0 : nil }
                ?? RequestIDs.next()
            // Metadata is built only for a line actually written: setting it on
            // a Logger copies its dictionary, a cost every request would pay
            // for lines that are rarely written.
            func logMetadata(_ extra: Logger.Metadata) -> Logger.Metadata {
                extra.merging(["request.id": "\(requestID)", "route": "\(route.name)"]) { $1 }
            }
            var response: Response
            do throws(GatewayError) {
                response = try await serve(route, pathValues: pathValues, request: request, requestID: requestID)
            } catch {
                response = error.response(route: route)
                if error.status.code >= 500 {
                    context.logger.warning(
                        "request failed",
                        metadata: logMetadata(["error": "\(error.logDescription)"])
                    )
                }
            }
            response.headers[Self.requestIDHeader] = requestID
            let elapsed = ContinuousClock.now - started
            requests([route.name, "\(response.status.code)"]).recordNanoseconds(elapsed.nanoseconds)
            if context.logger.logLevel <= .debug {
                context.logger.debug(
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
        request: Request,
        requestID: String
    ) async throws(GatewayError) -> Response {
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
        return JSONResponse.make(.init(code: route.successStatus), ProtoJSON.encode(body))
    }

    func authenticate(_ request: Request, requestID: String) async throws(GatewayError) -> Principal {
        var key = request.headers[Self.apiKeyHeader]
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw .unauthenticated("the Authorization header must be Bearer <API key>")
            }
            key = parts[1].trimmingCharacters(in: .whitespaces)
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

    /// The request message: the JSON body (when the route binds it), then the
    /// path variables and query parameters on top.
    func requestMessage(
        _ route: RouteMap.Route,
        pathValues: [(field: FieldDescriptor, text: String)],
        request: Request
    ) async throws(GatewayError) -> ProtoMessage {
        var message = ProtoMessage(route.method.input)
        if route.bindsBody {
            let bytes: ByteBuffer
            do {
                bytes = try await request.body.collect(upTo: configuration.maximumBodyBytes)
            } catch is NIOTooManyBytesError {
                throw .bodyTooLarge(limit: configuration.maximumBodyBytes)
            } catch {
                throw .badRequest("cannot read the request body", detail: nil)
            }
            if bytes.readableBytes > 0 {
                do {
                    message = try ProtoJSON.decode(bytes.readableBytesView, as: route.method.input)
                } catch {
                    throw .badRequest(
                        error.field.isEmpty ? error.reason : "invalid field \(error.field)",
                        detail: error.field.isEmpty ? nil : error.description
                    )
                }
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
        for (name, value) in request.uri.queryParameters {
            let parameter = String(name)
            guard let field = route.query[parameter] else { continue }
            guard seen.insert(parameter).inserted else {
                throw .badRequest(
                    "invalid query parameter \(parameter)",
                    detail: "\(parameter) is given more than once"
                )
            }
            let text = String(value)  // already percent-decoded by Hummingbird
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
