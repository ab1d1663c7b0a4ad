/// Sends one webhook request and says how it ended; never throws (every
/// failure is an outcome). The dispatcher's only way out to the network:
/// ``CurlHTTPClient`` in production, a test's own double in tests.
public protocol OutboundHTTP: Sendable {
    func execute(_ request: OutboundRequest) async -> OutboundResult
}

/// One HTTP request to a webhook target.
public struct OutboundRequest: Sendable {
    public var url: String
    public var method: String
    /// Sent in this order; names are sent as given.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The whole exchange (DNS, connect, TLS, request, response) must end within this.
    public var timeoutMilliseconds: Int64

    public init(
        url: String,
        method: String,
        headers: [(name: String, value: String)],
        body: [UInt8],
        timeoutMilliseconds: Int64
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// How an outbound request ended.
public struct OutboundResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A complete response (any status).
        case response(status: Int)
        /// No complete response within the request's timeout.
        case timeout
        /// DNS, connect or TLS failure, or the connection broke.
        case connectionError
        /// Every address the target resolved to was internal and the client
        /// does not allow internal addresses.
        case blocked(address: String)
        /// The request was abandoned (task cancelled or client shut down).
        case cancelled
    }

    public var outcome: Outcome
    /// Response headers in the order received (the final response's, not a 100's).
    public var responseHeaders: [(name: String, value: String)]
    /// The start of the response body, at most the client's configured bound.
    public var responseBody: [UInt8]
    /// Human-readable failure text (curl's), nil for a response.
    public var error: String?
    /// Wall time from start to end of the transfer.
    public var durationMilliseconds: Int64
    /// The address connected to, when a connection was made.
    public var connectedAddress: String?

    public init(
        outcome: Outcome,
        responseHeaders: [(name: String, value: String)] = [],
        responseBody: [UInt8] = [],
        error: String? = nil,
        durationMilliseconds: Int64 = 0,
        connectedAddress: String? = nil
    ) {
        self.outcome = outcome
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.connectedAddress = connectedAddress
    }

    /// The first response header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return responseHeaders.first { $0.name.lowercased() == lower }?.value
    }
}
