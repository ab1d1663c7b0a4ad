import Foundation
public import NIOCore
public import NIOHTTP1

/// One complete HTTP request as the gateway routes it: the head and the whole
/// body (at most the configured limit).
public struct GatewayRequest: Sendable {
    public let method: HTTPMethod
    /// The path as sent, still percent-encoded (``RouteMap`` decodes segments).
    public let path: String
    /// The raw query (after `?`), or nil.
    public let query: Substring?
    public let headers: HTTPHeaders
    public let body: ByteBuffer

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: ByteBuffer = ByteBuffer()) {
        self.method = method
        if let mark = uri.firstIndex(of: "?") {
            self.path = String(uri[..<mark])
            self.query = uri[uri.index(after: mark)...]
        } else {
            self.path = uri
            self.query = nil
        }
        self.headers = headers
        self.body = body
    }

    /// The query parameters in order: `name=value` pairs split at `&`, the
    /// value percent-decoded (kept as sent when it is not valid encoding); a
    /// parameter without `=` has the empty value.
    public var queryParameters: [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            guard let equals = pair.firstIndex(of: "=") else { return (String(pair), "") }
            let value = pair[pair.index(after: equals)...]
            return (String(pair[..<equals]), value.removingPercentEncoding ?? String(value))
        }
    }
}

/// The answer to a ``GatewayRequest``.
public struct GatewayResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
