import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The gateway's HTTP/1.1 listener, a ServiceLifecycle service.
///
/// Each connection is a NIO pipeline: NIO's HTTP request decoder, then
/// ``GatewayHTTPHandler``, which answers requests one at a time and writes
/// the responses as bytes (400 for malformed HTTP). A connection over
/// ``GatewayHTTPLimits/maximumConnections`` gets a 503 and is closed
/// (``RefusedConnectionHandler``). On graceful shutdown it stops
/// accepting, lets every request in progress finish, closes each connection
/// once its answer is written, and returns.
public final class GatewayHTTPServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let responder: any GatewayResponding
    private let limits: GatewayHTTPLimits
    private let logger: Logger
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let listening = NIOLockedValueBox<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    init(
        host: String,
        port: Int,
        responder: any GatewayResponding,
        limits: GatewayHTTPLimits,
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.host = host
        self.port = port
        self.responder = responder
        self.limits = limits
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Returns the bound port once the server accepts connections (the real
    /// one when configured with port 0).
    public func waitUntilListening() async -> Int {
        await withCheckedContinuation { continuation in
            let port = listening.withLockedValue { state -> Int? in
                if state.port == nil { state.waiters.append(continuation) }
                return state.port
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    public func run() async throws {
        let quiesce = ServerQuiescingHelper(group: eventLoopGroup)
        let responder = self.responder
        let limits = self.limits
        // One timeout sweep per event loop (ConnectionSweeper).
        let sweepers = Dictionary(
            uniqueKeysWithValues: eventLoopGroup.makeIterator().map { loop in
                (ObjectIdentifier(loop), ConnectionSweeper(eventLoop: loop, interval: limits.sweepInterval))
            }
        )
        defer { sweepers.values.forEach { $0.stop() } }
        let connections = ConnectionCount()
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: GatewayHTTPLimits.writeBufferWaterMark)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    let open = connections.opened()
                    channel.closeFuture.whenComplete { _ in connections.closed() }
                    guard open <= limits.maximumConnections else {
                        GatewayHTTPMetrics.refused()
                        try pipeline.addHandler(RefusedConnectionHandler(limits: limits))
                        return
                    }
                    guard let sweeper = sweepers[ObjectIdentifier(channel.eventLoop)] else {
                        preconditionFailure("a connection on an event loop outside the server's group")
                    }
                    // Pipelining, limits, protocol errors and response
                    // encoding are GatewayHTTPHandler's (see there).
                    let handler = GatewayHTTPHandler(responder: responder, limits: limits, sweeper: sweeper)
                    var decoderLimits = NIOHTTPDecoderLimitConfiguration()
                    decoderLimits.maxHeaderFieldSize = GatewayHTTPLimits.decoderHeadBytes
                    decoderLimits.maxHeaderListSize = GatewayHTTPLimits.decoderHeadBytes
                    try pipeline.addHandler(RequestStartObserver(handler))
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(limitConfiguration: decoderLimits)))
                    try pipeline.addHandler(handler)
                }
            }
            .bind(host: host, port: port)
            .get()
        let boundPort = channel.localAddress?.port ?? port
        let waiters = listening.withLockedValue { state in
            state.port = boundPort
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume(returning: boundPort) }
        logger.info("gateway listening", metadata: ["http.address": "\(host):\(boundPort)"])

        let closed = channel.closeFuture
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await closed.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } onGracefulShutdown: {
            self.logger.info("gateway draining", metadata: ["http.address": "\(self.host):\(boundPort)"])
            quiesce.initiateShutdown(promise: nil)
        }
        // The listener is closed. After a graceful shutdown, wait for the
        // connections still finishing; when cancelled, stop at once.
        guard !Task.isCancelled else { return }
        let drained = eventLoopGroup.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: drained)
        try? await drained.futureResult.get()
        logger.info("gateway stopped", metadata: ["http.address": "\(host):\(boundPort)"])
    }
}

/// The gateway's open connections, counted across event loops.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a new connection; returns how many are open with it.
    func opened() -> Int {
        let open = count.add(1, ordering: .relaxed).newValue
        GatewayHTTPMetrics.open(open)
        return open
    }

    func closed() {
        let open = count.subtract(1, ordering: .relaxed).newValue
        GatewayHTTPMetrics.open(open)
    }
}

/// A connection over the cap: answered 503 at once, its sending side shut
/// so the client reads the answer and then the end, whatever it sent
/// dropped, and closed when the client closes or after a second.
final class RefusedConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limits: GatewayHTTPLimits

    init(limits: GatewayHTTPLimits) {
        self.limits = limits
    }

    func channelActive(context: ChannelHandlerContext) {
        let bytes = HTTPResponseEncoding.encode(
            GatewayHTTPError.tooManyConnections(limits),
            version: .http1_1,
            keepAlive: false,
            date: HTTPDate.now(),
            allocator: context.channel.allocator
        )
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
    }
}
