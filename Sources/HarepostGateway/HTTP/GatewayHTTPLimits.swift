public import NIOCore

/// What one client may take of the gateway: connections, time, and bytes
/// read ahead or written behind. Every bound has a default that a normal
/// client never meets (docs/components.md, "Limits").
public struct GatewayHTTPLimits: Sendable, Equatable {
    /// Largest request body accepted (413 beyond).
    public var maximumBodyBytes: Int
    /// Open connections at once; one over it gets a 503 and is closed.
    public var maximumConnections: Int
    /// Requests read on one connection but not yet answered; the request
    /// over it gets a 429 and the connection closes after the ones before it.
    public var maximumPipelinedRequests: Int
    /// Longest request target (414 beyond).
    public var maximumURIBytes: Int
    /// Most bytes of header names and values in one request (431 beyond).
    public var maximumHeaderBytes: Int
    /// How long a kept-alive connection may wait, with no part of a next
    /// request, before it is closed.
    public var idleTimeout: TimeAmount
    /// From a request's first byte to its complete head (408 beyond).
    public var headerTimeout: TimeAmount
    /// From a request's head to its complete body (408 beyond); also bounds
    /// how long the rest of a refused body is read and dropped.
    public var bodyTimeout: TimeAmount
    /// How long answers may wait for a client that reads nothing before the
    /// connection is closed.
    public var sendTimeout: TimeAmount

    public init(
        maximumBodyBytes: Int = 1_114_112,
        maximumConnections: Int = 4096,
        maximumPipelinedRequests: Int = 128,
        maximumURIBytes: Int = 8192,
        maximumHeaderBytes: Int = 32768,
        idleTimeout: TimeAmount = .seconds(60),
        headerTimeout: TimeAmount = .seconds(10),
        bodyTimeout: TimeAmount = .seconds(30),
        sendTimeout: TimeAmount = .seconds(30)
    ) {
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumConnections = maximumConnections
        self.maximumPipelinedRequests = maximumPipelinedRequests
        self.maximumURIBytes = maximumURIBytes
        self.maximumHeaderBytes = maximumHeaderBytes
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.sendTimeout = sendTimeout
    }

    /// The request line and headers NIO's decoder buffers before it gives
    /// up (431): above the two limits checked on the decoded head, so that
    /// an over-long target within it is told apart as 414.
    static let decoderHeadBytes = 64 * 1024

    /// Most bytes of a refused body read and dropped after its 413, so that
    /// a client that writes its whole body before reading gets the answer
    /// instead of a reset.
    static let maximumDrainBytes = 32 << 20

    /// Unsent answer bytes above which a connection stops reading and
    /// answering until the client has read them down to the low mark.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 256 * 1024)

    /// How often each event loop checks its connections' timeouts: a
    /// quarter of the shortest, between 10 ms and 1 s.
    var sweepInterval: TimeAmount {
        let shortest = min(idleTimeout, headerTimeout, bodyTimeout, sendTimeout)
        return max(.milliseconds(10), min(.seconds(1), .nanoseconds(shortest.nanoseconds / 4)))
    }
}
