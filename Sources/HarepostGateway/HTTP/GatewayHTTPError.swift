import NIOCore
import NIOHTTP1

/// The answers the HTTP layer writes itself, before or instead of a route:
/// each with its status and the public `{error, detail}` body.
enum GatewayHTTPError {
    static func malformed(_ error: HTTPParserError) -> GatewayResponse {
        JSONResponse.error(.badRequest, "malformed request", detail: error.debugDescription)
    }

    static let versionNotSupported = JSONResponse.error(
        .httpVersionNotSupported,
        "http version not supported",
        detail: "the gateway speaks HTTP/1.1 and HTTP/1.0"
    )

    static func uriTooLong(_ limits: GatewayHTTPLimits) -> GatewayResponse {
        JSONResponse.error(
            .uriTooLong,
            "uri too long",
            detail: "the request target may be at most \(limits.maximumURIBytes) bytes"
        )
    }

    static func headersTooLarge(_ limits: GatewayHTTPLimits) -> GatewayResponse {
        JSONResponse.error(
            .requestHeaderFieldsTooLarge,
            "request header fields too large",
            detail: "header names and values may take at most \(limits.maximumHeaderBytes) bytes"
        )
    }

    /// NIO's decoder gave up on the head before it was complete.
    static let headTooLarge = JSONResponse.error(
        .requestHeaderFieldsTooLarge,
        "request header fields too large",
        detail: "the request line and headers may take at most \(GatewayHTTPLimits.decoderHeadBytes) bytes"
    )

    static func tooManyPipelined(_ limits: GatewayHTTPLimits) -> GatewayResponse {
        JSONResponse.error(
            .tooManyRequests,
            "too many pipelined requests",
            detail: "at most \(limits.maximumPipelinedRequests) requests may wait for their answers on one connection"
        )
    }

    /// - Parameter part: `head` or `body`.
    static func timeout(_ part: String, limit: TimeAmount) -> GatewayResponse {
        let milliseconds = limit.nanoseconds / 1_000_000
        let text = milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
        return JSONResponse.error(
            .requestTimeout,
            "request timeout",
            detail: "the request \(part) did not arrive within \(text)"
        )
    }

    static func tooManyConnections(_ limits: GatewayHTTPLimits) -> GatewayResponse {
        var response = JSONResponse.error(
            .serviceUnavailable,
            "too many connections",
            detail: "the gateway holds at most \(limits.maximumConnections) connections; retry shortly"
        )
        response.headers.add(name: "retry-after", value: "1")
        return response
    }
}
