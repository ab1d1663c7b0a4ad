import Foundation
import HarepostProto
public import HarepostTime
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

    private struct State {
        var draining = false
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: Connection] = [:]
        var inFlight = 0
        var isListening = false
        var listeningWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct Connection {
        let channel: any Channel
        var inFlight = 0
    }

    public let configuration: Configuration
    private let router: RPCRouter
    private let logger: Logger
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let state = NIOLockedValueBox(State())

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
            RPCHealth.checkPath,
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

    /// `response` as a frame; an answer over the frame limit becomes RESOURCE_EXHAUSTED.
    fileprivate func encode(_ response: RPCEnvelope, allocator: ByteBufferAllocator) -> ByteBuffer {
        let frame = response.frame(allocator: allocator)
        guard RPCEnvelope.bodySize(ofFrame: frame) > configuration.maximumFrameSize else { return frame }
        let error = RPCError(
            .resourceExhausted,
            "response larger than the \(configuration.maximumFrameSize)-byte frame limit"
        )
        return RPCEnvelope.response(callID: response.callID, error: error).frame(allocator: allocator)
    }

    fileprivate func beginCall(on connection: ObjectIdentifier, channel: any Channel) -> Bool {
        state.withLockedValue { state in
            guard !state.draining else { return false }
            state.connections[connection, default: Connection(channel: channel)].inFlight += 1
            state.inFlight += 1
            RPCMetrics.recordServerInFlight(state.inFlight)
            return true
        }
    }

    /// Counts an immediate call in flight; false while draining.
    fileprivate func beginImmediateCall() -> Bool {
        state.withLockedValue { state in
            guard !state.draining else { return false }
            state.inFlight += 1
            return true
        }
    }

    fileprivate func endImmediateCalls(_ count: Int) {
        state.withLockedValue { $0.inFlight -= count }
    }

    fileprivate func endCall(on connection: ObjectIdentifier, count: Int = 1) {
        let idleWhileDraining = state.withLockedValue { state -> (any Channel)? in
            state.inFlight -= count
            RPCMetrics.recordServerInFlight(state.inFlight)
            guard var entry = state.connections[connection] else { return nil }
            entry.inFlight -= count
            state.connections[connection] = entry
            return state.draining && entry.inFlight == 0 ? entry.channel : nil
        }
        idleWhileDraining?.close(promise: nil)
    }

    /// Runs one call to its response envelope, and measures it; never throws.
    private func answer(_ request: RPCEnvelope, eventLoop: any EventLoop) async -> RPCEnvelope {
        let started = ContinuousClock.now
        let response: RPCEnvelope
        switch prepare(request, route: router.route(for: request.method)) {
        case .answered(let answer):
            response = answer
        case .call(let route, let message, let context):
            let outcome: Result<ProtoMessage, any Error>
            switch route.handler {
            case .task(let handler):
                do {
                    outcome = .success(try await Self.run(handler, message, context, eventLoop: eventLoop))
                } catch {
                    outcome = .failure(error)
                }
            case .immediate(let handler):
                outcome = Self.runImmediately(handler, message, context)
            case .future(let handler):
                // Such calls are started by RPCServerCallHandler; this path
                // serves them all the same.
                do {
                    outcome = .success(try await handler(message, context, eventLoop).get())
                } catch {
                    outcome = .failure(error)
                }
            }
            response = Self.response(to: request, route: route, context: context, outcome: outcome)
        }
        record(request, response, since: started)
        return response
    }

    /// Answers a call to an immediate handler (``RPCRouter/register(_:immediate:)``)
    /// on the calling thread, and measures it; never throws.
    fileprivate func answerImmediately(
        _ request: RPCEnvelope,
        route: RPCRouter.Route,
        handler: RPCImmediateHandler
    ) -> RPCEnvelope {
        let started = ContinuousClock.now
        let response: RPCEnvelope
        switch prepare(request, route: route) {
        case .answered(let answer):
            response = answer
        case .call(let route, let message, let context):
            let outcome = Self.runImmediately(handler, message, context)
            response = Self.response(to: request, route: route, context: context, outcome: outcome)
        }
        record(request, response, since: started)
        return response
    }

    /// An immediate handler's outcome; the deadline is checked before it runs.
    fileprivate static func runImmediately(
        _ handler: RPCImmediateHandler,
        _ message: ProtoMessage,
        _ context: RPCContext
    ) -> Result<ProtoMessage, any Error> {
        if let deadline = context.deadline, deadline <= .now {
            return .failure(RPCError(.deadlineExceeded, "deadline exceeded before the call started"))
        }
        return Result { try handler(message, context) }
    }

    fileprivate func route(for method: String) -> RPCRouter.Route? {
        router.route(for: method)
    }

    fileprivate func record(_ request: RPCEnvelope, _ response: RPCEnvelope, since started: ContinuousClock.Instant) {
        RPCMetrics.recordServerCall(request.method, code: response.code, since: started)
        if logger.logLevel <= .debug {
            var logger = self.logger
            logger[metadataKey: "request.id"] = request.metadata[RPCMetadataKey.requestID].map { "\($0)" }
            logger.debug(
                "rpc call answered",
                metadata: [
                    "rpc.method": "\(request.method)", "rpc.code": "\(response.code)",
                    "rpc.duration_us": "\((ContinuousClock.now - started).nanoseconds / 1000)",
                ]
            )
        }
    }

    fileprivate enum Preparation {
        /// The call cannot run (unknown method, undecodable request): its answer.
        case answered(RPCEnvelope)
        case call(RPCRouter.Route, ProtoMessage, RPCContext)
    }

    /// Decodes the request message for `route` (the method's, nil when unknown).
    fileprivate func prepare(_ request: RPCEnvelope, route: RPCRouter.Route?) -> Preparation {
        guard let route else {
            return .answered(
                .response(callID: request.callID, error: RPCError(.unimplemented, "unknown method \(request.method)"))
            )
        }
        let message: ProtoMessage
        do {
            message = try ProtoMessage(serializedBytes: request.payload, as: route.method.input)
        } catch {
            let reason =
                switch error {
                case .nestingTooDeep:
                    "request nests messages too deeply (more than \(ProtoMessage.maximumNestingDepth) levels)"
                case .invalidUTF8(_, let field): "request field \(field) is not valid UTF-8"
                default: "request is not a valid \(route.method.input.fullName)"
                }
            return .answered(.response(callID: request.callID, error: .invalidArgument(reason)))
        }
        let deadline =
            request.timeoutMilliseconds > 0
            ? ContinuousClock.now + .milliseconds(Int64(clamping: request.timeoutMilliseconds)) : nil
        let context = RPCContext(method: request.method, metadata: request.metadata, deadline: deadline, logger: logger)
        return .call(route, message, context)
    }

    /// The response envelope for a handler's outcome: its message, or its
    /// error as a status (an unexpected error is INTERNAL, without detail).
    fileprivate static func response(
        to request: RPCEnvelope,
        route: RPCRouter.Route,
        context: RPCContext,
        outcome: Result<ProtoMessage, any Error>
    ) -> RPCEnvelope {
        var logger: Logger { context.logger }
        switch outcome {
        case .success(let response):
            guard response.descriptor == route.method.output else {
                logger.error(
                    "handler answered with the wrong message type",
                    metadata: ["rpc.response_type": "\(response.descriptor.fullName)"]
                )
                return .response(callID: request.callID, error: RPCError(.internal, "internal error"))
            }
            return .response(callID: request.callID, payload: response.serializedBytes())
        case .failure(let error as RPCError):
            logger.debug("rpc call failed", metadata: ["rpc.code": "\(error.code)", "error": "\(error.message)"])
            return .response(callID: request.callID, error: error)
        case .failure(is CancellationError):
            // The caller left (or the server stopped); nobody reads this answer.
            logger.debug("rpc call cancelled")
            return .response(callID: request.callID, error: RPCError(.cancelled, "call cancelled"))
        case .failure(let error):
            logger.error("rpc handler failed", metadata: ["error": "\(error)"])
            return .response(callID: request.callID, error: RPCError(.internal, "internal error"))
        }
    }

    /// Runs the handler, cancelling it at the deadline. The deadline is a
    /// timer on the connection's event loop, which wakes anyway for I/O: a
    /// `Task.sleep` per call costs a Dispatch timer and a thread wake-up each.
    private static func run(
        _ handler: @escaping RPCHandler,
        _ message: ProtoMessage,
        _ context: RPCContext,
        eventLoop: any EventLoop
    ) async throws -> ProtoMessage {
        guard let deadline = context.deadline else { return try await handler(message, context) }
        let remaining = deadline - .now
        guard remaining > .zero else { throw RPCError(.deadlineExceeded, "deadline exceeded before the call started") }
        return try await withThrowingTaskGroup(of: ProtoMessage?.self) { group in
            group.addTask { try await handler(message, context) }
            group.addTask {
                let timer = eventLoop.scheduleTask(in: .nanoseconds(remaining.nanoseconds)) {}
                do {
                    try await withTaskCancellationHandler {
                        try await timer.futureResult.get()
                    } onCancel: {
                        timer.cancel()
                    }
                } catch {
                    // The timer was cancelled with the call (its caller left,
                    // or the server stopped): that is a cancellation, not a
                    // handler failure.
                    throw CancellationError()
                }
                return nil
            }
            defer { group.cancelAll() }
            guard let response = try await group.next()! else {
                throw RPCError(.deadlineExceeded, "deadline exceeded")
            }
            return response
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

/// Decodes each frame into a request envelope. A call to an immediate method
/// (``RPCRouter/register(_:immediate:)``) is answered right here on the event
/// loop, and its answer flushed with the others of the same read. A call to a
/// future method (``RPCRouter/register(_:future:)``) starts here and is
/// answered here when its future completes. Every other request goes on to
/// the connection's task. A frame that is not a request envelope fails the
/// connection.
final class RPCServerCallHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = RPCEnvelope
    typealias OutboundOut = ByteBuffer

    /// A started future call: answered once, by its future or its deadline.
    private final class PendingCall {
        var answered = false
        let deadline: ContinuousClock.Instant
        /// Answers DEADLINE_EXCEEDED; nil once answered (it refers to the call).
        var expire: (() -> Void)?

        init(deadline: ContinuousClock.Instant) {
            self.deadline = deadline
        }
    }

    private let server: RPCServer
    /// Immediate calls answered (written) but not yet flushed. They count as
    /// in flight (health's `in_flight`) until the flush. They need no
    /// per-connection count: a drain closes a connection with a task on its
    /// event loop, which cannot run between a read and its flush. (The
    /// connection may even get here before its task has registered it.)
    private var unflushed = 0
    /// Answers written outside a read (refusals, future calls' answers) and
    /// not yet flushed.
    private var needsFlush = false
    /// Future calls answered but not yet flushed. They count on the
    /// connection too: a drain waits for them, and closes the connection
    /// only after their answers are flushed.
    private var futureUnflushed = 0
    private var flushScheduled = false
    private var active = true
    private var failed = false
    /// Future calls with a deadline, answered ones removed at the next sweep;
    /// swept every `RPCDeadlines.resolution` while any remain.
    private var timed: [PendingCall] = []
    private var sweepScheduled = false

    init(server: RPCServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let request: RPCEnvelope
        do {
            request = try RPCEnvelope(frame: unwrapInboundIn(data))
            guard request.kind == .request else {
                throw RPCEnvelope.DecodingError(description: "a client sent a frame that is not a request")
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            return
        }
        switch server.route(for: request.method)?.handler {
        case .immediate(let handler):
            answerImmediately(request, handler: handler, context: context)
        case .future(let handler):
            start(request, handler: handler, context: context)
        case .task, nil:
            context.fireChannelRead(wrapInboundOut(request))
        }
    }

    private func answerImmediately(
        _ request: RPCEnvelope,
        handler: @escaping RPCImmediateHandler,
        context: ChannelHandlerContext
    ) {
        let answer: RPCEnvelope
        if server.beginImmediateCall() {
            unflushed += 1
            answer = server.answerImmediately(request, route: server.route(for: request.method)!, handler: handler)
        } else {
            answer = .response(callID: request.callID, error: .unavailable("server is shutting down"))
            needsFlush = true
        }
        context.write(wrapOutboundOut(server.encode(answer, allocator: context.channel.allocator)), promise: nil)
    }

    /// Starts a future call; its answer is written when the future (or the
    /// deadline) comes, and flushed with the others of that event-loop turn.
    private func start(_ request: RPCEnvelope, handler: @escaping RPCFutureHandler, context: ChannelHandlerContext) {
        let connection = ObjectIdentifier(context.channel)
        guard server.beginCall(on: connection, channel: context.channel) else {
            let refusal = RPCEnvelope.response(callID: request.callID, error: .unavailable("server is shutting down"))
            context.write(wrapOutboundOut(server.encode(refusal, allocator: context.channel.allocator)), promise: nil)
            needsFlush = true
            return
        }
        let started = ContinuousClock.now
        let route: RPCRouter.Route
        let message: ProtoMessage
        let callContext: RPCContext
        switch server.prepare(request, route: server.route(for: request.method)) {
        case .answered(let answer):
            server.record(request, answer, since: started)
            write(answer, context: context)
            return
        case .call(let preparedRoute, let preparedMessage, let preparedContext):
            (route, message, callContext) = (preparedRoute, preparedMessage, preparedContext)
        }
        var answered = false
        var call: PendingCall?
        let finish = { (outcome: Result<ProtoMessage, any Error>) in
            guard !answered else { return }
            answered = true
            call?.answered = true
            call?.expire = nil
            let answer = RPCServer.response(to: request, route: route, context: callContext, outcome: outcome)
            self.server.record(request, answer, since: started)
            self.write(answer, context: context)
        }
        if let deadline = callContext.deadline {
            guard deadline > .now else {
                finish(.failure(RPCError(.deadlineExceeded, "deadline exceeded before the call started")))
                return
            }
            let timed = PendingCall(deadline: deadline)
            timed.expire = { finish(.failure(RPCError(.deadlineExceeded, "deadline exceeded"))) }
            call = timed
            self.timed.append(timed)
            scheduleSweep(context: context)
        }
        handler(message, callContext, context.eventLoop).hop(to: context.eventLoop).assumeIsolated()
            .whenComplete(finish)
    }

    private func scheduleSweep(context: ChannelHandlerContext) {
        guard !sweepScheduled else { return }
        sweepScheduled = true
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(RPCDeadlines.resolution.nanoseconds)) {
            self.sweepScheduled = false
            self.sweep(context: context)
        }
    }

    /// Answers the calls whose deadline has passed; sweeps again while calls
    /// with deadlines remain.
    private func sweep(context: ChannelHandlerContext) {
        let now = ContinuousClock.now
        var expired: [PendingCall] = []
        timed.removeAll { call in
            if call.answered { return true }
            guard call.deadline <= now else { return false }
            expired.append(call)
            return true
        }
        for call in expired { call.expire?() }
        if !timed.isEmpty { scheduleSweep(context: context) }
    }

    /// Writes a future call's answer; one flush per event-loop turn covers
    /// every answer written in it.
    private func write(_ answer: RPCEnvelope, context: ChannelHandlerContext) {
        futureUnflushed += 1
        if active {
            context.write(wrapOutboundOut(server.encode(answer, allocator: context.channel.allocator)), promise: nil)
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.flushAnswers(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        flushAnswers(context: context)
        active = false
        context.fireChannelInactive()
    }

    private func flushAnswers(context: ChannelHandlerContext) {
        guard unflushed > 0 || futureUnflushed > 0 || needsFlush else { return }
        let (immediate, future) = (unflushed, futureUnflushed)
        (unflushed, futureUnflushed, needsFlush) = (0, 0, false)
        if active { context.flush() }
        if immediate > 0 { server.endImmediateCalls(immediate) }
        // After the flush: ending the last call of a draining connection closes it.
        if future > 0 { server.endCall(on: ObjectIdentifier(context.channel), count: future) }
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
