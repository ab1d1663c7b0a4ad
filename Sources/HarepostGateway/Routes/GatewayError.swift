import HarepostJSON
import HarepostRPC
import NIOHTTP1

/// Why a routed request failed, and the public JSON error it becomes.
enum GatewayError: Error {
    case badRequest(String, detail: String?)
    case unauthenticated(String)
    case notFound(String)
    case bodyTooLarge(limit: Int)
    case rateLimited(limit: Int, retryAfterSeconds: Int)
    case rpc(RPCError)

    /// RPC status → HTTP status, as grpc-gateway maps them.
    static func httpStatus(_ code: RPCCode) -> HTTPResponseStatus {
        switch code {
        case .ok: .ok
        case .invalidArgument, .failedPrecondition, .outOfRange: .badRequest
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .notFound: .notFound
        case .alreadyExists, .aborted: .conflict
        case .resourceExhausted: .tooManyRequests
        case .unimplemented: .notImplemented
        case .unavailable, .cancelled: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        default: .internalServerError
        }
    }

    var status: HTTPResponseStatus {
        switch self {
        case .badRequest: .badRequest
        case .unauthenticated: .unauthorized
        case .notFound: .notFound
        case .bodyTooLarge: .payloadTooLarge
        case .rateLimited: .tooManyRequests
        case .rpc(let error): Self.httpStatus(error.code)
        }
    }

    /// For logs only: may name internals.
    var logDescription: String {
        if case .rpc(let error) = self { return "\(error)" }
        return "\(self)"
    }

    /// - Parameter route: the route that failed, for its documented error
    ///   fields; nil before a route is known.
    func response(route: RouteMap.Route?) -> GatewayResponse {
        switch self {
        case .badRequest(let message, let detail):
            return JSONResponse.error(.badRequest, message, detail: detail)
        case .unauthenticated(let detail):
            return JSONResponse.error(.unauthorized, "unauthorized", detail: detail)
        case .notFound(let message):
            return JSONResponse.error(.notFound, message)
        case .bodyTooLarge(let limit):
            return JSONResponse.error(.payloadTooLarge, "request body too large", detail: "at most \(limit) bytes")
        case .rateLimited(let limit, let seconds):
            var response = JSONResponse.error(
                .tooManyRequests,
                "rate limit exceeded",
                detail: "this account may make \(limit) requests per minute"
            )
            response.headers.add(name: "retry-after", value: String(seconds))
            return response
        case .rpc(let error):
            let status = Self.httpStatus(error.code)
            switch status.code {
            case 503:
                var response = JSONResponse.error(
                    status,
                    "service unavailable",
                    detail: "a backing service is unavailable; retry shortly"
                )
                response.headers.add(name: "retry-after", value: "1")
                return response
            case 504:
                return JSONResponse.error(status, "gateway timeout", detail: "a backing service missed its deadline")
            case 500...:
                return JSONResponse.error(status, status == .notImplemented ? "not implemented" : "internal error")
            default:
                var members: [(key: String, value: JSONValue)] = [("error", .string(error.message))]
                members += route?.errorFields[error.code] ?? []
                return JSONResponse.make(status, .object(members))
            }
        }
    }
}
