import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle

/// The gateway's HTTP/1.1 listener, a ServiceLifecycle service.
///
/// Each connection is a NIO pipeline: NIO's HTTP request decoder, then
/// ``GatewayHTTPHandler``, which answers requests one at a time and writes
/// the responses as bytes (400 for malformed HTTP). On graceful shutdown it stops
/// accepting, lets every request in progress finish, closes each connection
/// once its answer is written, and returns.
public final class GatewayHTTPServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let responder: GatewayResponder
    private let maximumBodyBytes: Int
    private let logger: Logger
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let listening = NIOLockedValueBox<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))

    init(
        host: String,
        port: Int,
        responder: GatewayResponder,
        maximumBodyBytes: Int,
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.host = host
        self.port = port
        self.responder = responder
        self.maximumBodyBytes = maximumBodyBytes
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
        let maximumBodyBytes = self.maximumBodyBytes
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
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    // Pipelining, protocol errors and response encoding are
                    // GatewayHTTPHandler's (see there).
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try pipeline.addHandler(
                        GatewayHTTPHandler(responder: responder, maximumBodyBytes: maximumBodyBytes)
                    )
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
