import Foundation
import HarepostContracts
import HarepostProto
import HarepostTime
public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// Serves length-prefixed protobuf RPCs on a Unix socket (or TCP).
///
/// - The socket file gets `socketMode` (0600 by default). A stale socket file
///   left by a dead process is replaced; a live server on the path is an error.
/// - Every connection multiplexes calls: each request runs concurrently and its
///   response is written whenever it is ready, carrying the request's call id.
/// - A call's deadline (from the envelope) cancels its handler and answers
///   DEADLINE_EXCEEDED.
/// - `harepost.rpc.v1.Health/Check` is always served.
/// - On graceful shutdown (SIGTERM through the ServiceGroup) the listener closes,
///   in-flight calls finish, new calls get UNAVAILABLE, and each connection
///   closes once it has nothing in flight.
/// - A frame that is oversized or not an envelope closes that connection only.
public final class RPCServer: Service {
    public struct Configuration: Sendable {
        public var endpoint: RPCEndpoint
        /// Reported by the health method: `auth`, `store`, `dispatcher`.
        public var component: String
        public var version: String
        public var maximumFrameSize: Int
        /// Permissions of the socket file.
        public var socketMode: mode_t

        public init(
            endpoint: RPCEndpoint,
            component: String,
            version: String = HarepostRPCVersion.current,
            maximumFrameSize: Int = 4 << 20,
            socketMode: mode_t = 0o600
        ) {
            self.endpoint = endpoint
            self.component = component
            self.version = version
            self.maximumFrameSize = maximumFrameSize
            self.socketMode = socketMode
        }
    }

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    struct State {
        var draining = false
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: Connection] = [:]
        var inFlight = 0
        var isListening = false
        var listeningWaiters: [CheckedContinuation<Void, Never>] = []
    }

    struct Connection {
        let channel: any Channel
        var inFlight = 0
    }

    public let configuration: Configuration
    let router: RPCRouter
    let logger: Logger
    let eventLoopGroup: MultiThreadedEventLoopGroup
    let state = NIOLockedValueBox(State())

    public init(
        configuration: Configuration,
        router: RPCRouter,
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        var router = router
        let component = configuration.component
        let version = configuration.version
        let state = self.state
        let isServing = router.isServing
        try! router.register(
            RPCHealth.Check.self,
            immediate: { _, _ in
                let (draining, inFlight) = state.withLockedValue { ($0.draining, $0.inFlight) }
                return RPCHealth.response(
                    component: component,
                    version: version,
                    draining: draining,
                    serving: isServing(),
                    inFlight: inFlight
                )
            }
        )
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// Returns once the server accepts connections.
    public func waitUntilListening() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state in
                if state.isListening { return true }
                state.listeningWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    public func run() async throws {
        try await removeStaleSocket()
        let maximumFrameSize = configuration.maximumFrameSize
        let listener = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .bind(to: try configuration.endpoint.socketAddress) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try RPCFraming.addHandlers(to: channel.pipeline.syncOperations, maximumFrameSize: maximumFrameSize)
                    try channel.pipeline.syncOperations.addHandler(RPCServerCallHandler(server: self))
                    return AcceptedConnection(
                        try NIOAsyncChannel<RPCEnvelope, ByteBuffer>(wrappingChannelSynchronously: channel)
                    )
                }
            }
        if case .unixSocket(let path) = configuration.endpoint, chmod(path, configuration.socketMode) != 0 {
            try? await listener.channel.close()
            throw StartupError(description: "cannot set mode of \(path): \(String(cString: strerror(errno)))")
        }
        let waiters = state.withLockedValue { state in
            state.listener = listener.channel
            state.isListening = true
            defer { state.listeningWaiters = [] }
            return state.listeningWaiters
        }
        waiters.forEach { $0.resume() }
        logger.info(
            "rpc server listening",
            metadata: ["rpc.endpoint": "\(configuration.endpoint)", "component": "\(configuration.component)"]
        )

        defer {
            if case .unixSocket(let path) = configuration.endpoint { unlink(path) }
        }
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    try await listener.executeThenClose { connections in
                        for try await connection in connections {
                            let connection = connection.take()
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            } onGracefulShutdown: {
                self.drain()
            }
        } catch is CancellationError {
            // Cancellation is an immediate stop, not a failure.
        }
        logger.info("rpc server stopped", metadata: ["rpc.endpoint": "\(configuration.endpoint)"])
    }

    /// Stops accepting connections and closes each one once it is idle.
    private func drain() {
        let (listener, idle) = state.withLockedValue { state -> ((any Channel)?, [any Channel]) in
            state.draining = true
            return (state.listener, state.connections.values.filter { $0.inFlight == 0 }.map(\.channel))
        }
        logger.info("rpc server draining", metadata: ["rpc.endpoint": "\(configuration.endpoint)"])
        listener?.close(promise: nil)
        idle.forEach { $0.close(promise: nil) }
    }

    private func serve(_ connection: NIOAsyncChannel<RPCEnvelope, ByteBuffer>) async {
        let id = ObjectIdentifier(connection.channel)
        let draining = state.withLockedValue { state in
            // A call answered on the event loop may have registered it first.
            if state.connections[id] == nil { state.connections[id] = Connection(channel: connection.channel) }
            return state.draining
        }
        defer { _ = state.withLockedValue { $0.connections.removeValue(forKey: id) } }
        if draining {
            // Through executeThenClose, which finishes the connection's
            // writer: an NIOAsyncChannel dropped with its writer unfinished
            // stops the process (a precondition in NIO).
            try? await connection.executeThenClose { _, _ in }
            return
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                let answers = ResponseBatcher()
                try await withThrowingDiscardingTaskGroup { group in
                    // The writer: every answer finished since its last write
                    // goes out in one batch (one flush).
                    group.addTask {
                        while true {
                            let batch = await answers.nextBatch()
                            if batch.isEmpty { return }
                            try? await outbound.write(contentsOf: batch)
                            for _ in batch { self.endCall(on: id) }
                        }
                    }
                    // Requests arrive decoded, the immediate ones already
                    // answered (RPCServerCallHandler).
                    for try await request in inbound {
                        guard beginCall(on: id, channel: connection.channel) else {
                            let refusal = RPCEnvelope.response(
                                callID: request.callID,
                                error: .unavailable("server is shutting down")
                            )
                            try await outbound.write(refusal.frame(allocator: connection.channel.allocator))
                            continue
                        }
                        group.addTask {
                            let response = await self.answer(request, eventLoop: connection.channel.eventLoop)
                            let encoded = self.encode(response, allocator: connection.channel.allocator)
                            if !answers.enqueue(encoded) { self.endCall(on: id) }
                        }
                    }
                    // The peer is gone: nobody can receive the answers of the
                    // calls still running (a dispatcher's long poll, say), so
                    // cancel them instead of letting them hold a drain up.
                    group.cancelAll()
                }
            }
        } catch {
            logger.info(
                "rpc connection closed",
                metadata: ["rpc.endpoint": "\(configuration.endpoint)", "error": "\(error)"]
            )
        }
    }

    /// Replaces a socket file left by a dead process; refuses to touch a live
    /// server's socket or a file that is not a socket.
    private func removeStaleSocket() async throws {
        guard case .unixSocket(let path) = configuration.endpoint else { return }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw StartupError(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        let live = try? await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.milliseconds(500))
            .connect(unixDomainSocketPath: path)
            .get()
        if let live {
            try? await live.close()
            throw StartupError(description: "another server is listening on \(path)")
        }
        logger.info("replacing stale socket file", metadata: ["rpc.endpoint": "\(configuration.endpoint)"])
        unlink(path)
    }
}

/// A connection the listener accepted, on its way to ``RPCServer/serve(_:)``.
///
/// NIO stops the process when an NIOAsyncChannel is released without its
/// writer finished, which `executeThenClose` does. Connections accepted but
/// not yet handed out are released unserved when the accept loop is cancelled
/// (its stream drops them), or when the listener closes while one is being
/// activated (apple/swift-nio#2813). One that is released without being taken
/// closes itself.
private final class AcceptedConnection: Sendable {
    private let channel: NIOAsyncChannel<RPCEnvelope, ByteBuffer>
    private let taken = NIOLockedValueBox(false)

    init(_ channel: NIOAsyncChannel<RPCEnvelope, ByteBuffer>) {
        self.channel = channel
    }

    /// The connection, to be served (through `executeThenClose`).
    func take() -> NIOAsyncChannel<RPCEnvelope, ByteBuffer> {
        taken.withLockedValue { $0 = true }
        return channel
    }

    deinit {
        guard !taken.withLockedValue({ $0 }) else { return }
        // A task, since closing through executeThenClose is async: it holds
        // the writer until it is finished.
        let channel = self.channel
        Task { try? await channel.executeThenClose { _, _ in } }
    }
}
