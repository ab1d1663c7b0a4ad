public import HarepostProto
public import HarepostTime
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// A client for one RPC server: many calls multiplexed on one connection.
///
/// ``run()`` owns the connection (run it in a task group or ServiceGroup); calls
/// made while it runs:
/// - go out at once on a ready connection, replies matched by call id;
/// - while disconnected, wake the reconnect loop to try at once and wait for
///   that attempt: if the server is down they fail fast with UNAVAILABLE;
/// - end with DEADLINE_EXCEEDED at their deadline (checked every 10 ms),
///   CANCELLED if their task is cancelled, UNAVAILABLE if the connection is
///   lost mid-call.
/// After a connection is lost, the loop reconnects with jittered exponential
/// backoff (50 ms doubling to a 2 s cap).
public final class RPCClient: Service, Sendable {
    public struct Configuration: Sendable {
        public var endpoint: RPCEndpoint
        public var maximumFrameSize: Int
        public var initialBackoff: Duration
        public var maximumBackoff: Duration
        public var connectTimeout: Duration

        public init(
            endpoint: RPCEndpoint,
            maximumFrameSize: Int = 4 << 20,
            initialBackoff: Duration = .milliseconds(50),
            maximumBackoff: Duration = .seconds(2),
            connectTimeout: Duration = .seconds(1)
        ) {
            self.endpoint = endpoint
            self.maximumFrameSize = maximumFrameSize
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.connectTimeout = connectTimeout
        }
    }

    /// Why a call attempt ended without a reply; decides whether to retry.
    enum Failure: Error {
        case status(RPCError)
        /// The request never left this process (a failed write): always safe to retry.
        case neverSent
        /// The connection closed after the request was written: retry only if idempotent.
        case connectionLost
    }

    private enum Connection {
        case stopped
        case connecting
        case ready(any Channel)
        case waiting
    }

    private struct PendingCall {
        enum Phase {
            /// Waiting for a connection; only an attempt numbered `firstAttempt` or
            /// later (one that started after the call was made) may fail it.
            case queued(RPCEnvelope, firstAttempt: Int)
            case sent(ObjectIdentifier)
        }
        var phase: Phase
        /// Called exactly once: ``complete(_:with:)`` (and every other path
        /// that ends a call) takes the call out of `pending` under the lock
        /// first. An async call resumes its unchecked continuation here.
        let finish: @Sendable (Result<RPCEnvelope, any Error>) -> Void
        var deadline: ContinuousClock.Instant?
    }

    private struct State {
        /// Calls made before ``run()`` starts wait (within their deadline) for its first connection.
        var connection: Connection = .waiting
        var pending: [UInt64: PendingCall] = [:]
        var nextCallID: UInt64 = 1
        /// Connection attempts started so far.
        var attempts = 0
        var wakeRequested = false
        var wake: CheckedContinuation<Void, Never>?
        /// Frames waiting for the next flush on their channel's event loop.
        var outbox: [(frame: ByteBuffer, callID: UInt64, channel: any Channel)] = []
        var flushScheduled = false
        /// Whether a deadline sweep is scheduled (while calls with deadlines are pending).
        var sweepScheduled = false
    }

    public let configuration: Configuration
    private let logger: Logger
    /// Where the connection lives: an event loop group, or one event loop
    /// (each client of an ``RPCClientGroup``).
    private let eventLoopGroup: any EventLoopGroup
    private let state = NIOLockedValueBox(State())

    public init(configuration: Configuration, logger: Logger, eventLoopGroup: MultiThreadedEventLoopGroup = .singleton)
    {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// A client whose connection (and deadline sweeps) live on `eventLoop`.
    public init(configuration: Configuration, logger: Logger, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoop
    }

    // MARK: Calls

    /// Calls `path` (`harepost.store.v1.Store/GetDelivery`) with `request`.
    public func call(_ path: String, _ request: ProtoMessage, options: RPCCallOptions)
        async throws(RPCError) -> ProtoMessage
    {
        let started = ContinuousClock.now
        do {
            let response = try await perform(path, request, options: options)
            RPCMetrics.recordClientCall(path, code: .ok, since: started)
            return response
        } catch {
            RPCMetrics.recordClientCall(path, code: error.code, since: started)
            throw error
        }
    }

    /// Calls `path` with `request` and hands the outcome to `completion`, on
    /// the thread that ends the call (the connection's event loop for a
    /// reply): for callers with no task to suspend, such as an event-loop
    /// handler. The same validation, retries and decoding as the async
    /// ``call(_:_:options:)``; a call made this way is not cancelled by any
    /// task, only ended by its reply, its deadline or the connection.
    public func call(
        _ path: String,
        _ request: ProtoMessage,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<ProtoMessage, RPCError>) -> Void
    ) {
        let started = ContinuousClock.now
        let prepared: Prepared
        do {
            prepared = try prepare(path, request, options: options)
        } catch {
            RPCMetrics.recordClientCall(path, code: error.code, since: started)
            completion(.failure(error))
            return
        }
        attempt(1, prepared, options: options) { result in
            let code: RPCCode
            switch result {
            case .success: code = .ok
            case .failure(let error): code = error.code
            }
            RPCMetrics.recordClientCall(path, code: code, since: started)
            completion(result)
        }
    }

    private func attempt(
        _ number: Int,
        _ prepared: Prepared,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<ProtoMessage, RPCError>) -> Void
    ) {
        let request: RPCEnvelope
        let frame: ByteBuffer
        let id: UInt64
        do {
            (id, request, frame) = try envelope(prepared, metadata: options.metadata)
        } catch {
            completion(.failure(Self.status(of: error)))
            return
        }
        start(id: id, request: request, frame: frame, deadline: prepared.deadline) { outcome in
            switch self.decide(outcome, prepared, attempt: number, options: options) {
            case .retry: self.attempt(number + 1, prepared, options: options, completion: completion)
            case .done(let result): completion(result)
            }
        }
    }

    private func perform(_ path: String, _ request: ProtoMessage, options: RPCCallOptions)
        async throws(RPCError) -> ProtoMessage
    {
        let prepared = try prepare(path, request, options: options)
        var attempt = 0
        while true {
            attempt += 1
            let outcome: Result<RPCEnvelope, any Error>
            do {
                outcome = .success(try await send(prepared, metadata: options.metadata))
            } catch {
                outcome = .failure(error)
            }
            switch decide(outcome, prepared, attempt: attempt, options: options) {
            case .retry: continue
            case .done(let result): return try result.get()
            }
        }
    }

    /// A call checked against the compiled contracts and packed once, for
    /// every attempt.
    private struct Prepared: Sendable {
        let path: String
        let method: ServiceDescriptor.Method
        let payload: [UInt8]
        let deadline: ContinuousClock.Instant?
    }

    private func prepare(_ path: String, _ request: ProtoMessage, options: RPCCallOptions) throws(RPCError) -> Prepared
    {
        guard let method = ServiceDescriptor.method(path: path) else {
            throw RPCError(.unimplemented, "no RPC method \(path) in the compiled proto contracts")
        }
        guard request.descriptor == method.input else {
            throw .invalidArgument("\(path) takes \(method.input.fullName), not \(request.descriptor.fullName)")
        }
        return Prepared(
            path: path,
            method: method,
            payload: request.serializedBytes(),
            deadline: options.timeout.map { ContinuousClock.now + $0 }
        )
    }

    private enum Decision {
        case retry
        case done(Result<ProtoMessage, RPCError>)
    }

    /// What an attempt's outcome means: the call's answer or error, or one
    /// more attempt (once: for a request that never left, or one lost with
    /// its connection when the call is idempotent).
    private func decide(
        _ outcome: Result<RPCEnvelope, any Error>,
        _ prepared: Prepared,
        attempt: Int,
        options: RPCCallOptions
    ) -> Decision {
        let reply: RPCEnvelope
        switch outcome {
        case .success(let envelope):
            reply = envelope
        case .failure(Failure.status(let error)):
            return .done(.failure(error))
        case .failure(Failure.neverSent) where attempt == 1:
            return .retry
        case .failure(Failure.connectionLost) where attempt == 1 && options.idempotent:
            return .retry
        case .failure(Failure.neverSent), .failure(Failure.connectionLost):
            return .done(.failure(.unavailable("connection to \(configuration.endpoint) lost")))
        case .failure(let error):
            return .done(.failure(RPCError(.unknown, "\(error)")))
        }
        guard reply.code == .ok else { return .done(.failure(RPCError(reply.code, reply.message))) }
        do {
            return .done(.success(try ProtoMessage(serializedBytes: reply.payload, as: prepared.method.output)))
        } catch {
            return .done(
                .failure(
                    RPCError(
                        .internal,
                        "\(prepared.path) answered with bytes that are not a \(prepared.method.output.fullName)"
                    )
                )
            )
        }
    }

    /// The server's `harepost.rpc.v1.Health/Check` answer.
    public func checkHealth(timeout: Duration) async throws(RPCError) -> ProtoMessage {
        try await call(
            RPCHealth.checkPath,
            try! ProtoMessage("harepost.rpc.v1.HealthCheckRequest"),
            options: RPCCallOptions(timeout: timeout, idempotent: true)
        )
    }

    /// The attempt's envelope and frame under a new call id.
    private func envelope(_ prepared: Prepared, metadata: [String: String]) throws(Failure) -> (
        UInt64, RPCEnvelope, ByteBuffer
    ) {
        var timeoutMilliseconds: UInt64 = 0
        if let deadline = prepared.deadline {
            let remaining = deadline - .now
            guard remaining > .zero else { throw .status(RPCError(.deadlineExceeded, "deadline exceeded")) }
            timeoutMilliseconds = UInt64(max(1, remaining.nanoseconds / 1_000_000))
        }
        let id = state.withLockedValue { state in
            defer { state.nextCallID += 1 }
            return state.nextCallID
        }
        let request = RPCEnvelope.request(
            callID: id,
            method: prepared.path,
            timeoutMilliseconds: timeoutMilliseconds,
            metadata: metadata,
            payload: prepared.payload
        )
        let frame = request.frame(allocator: ByteBufferAllocator())
        guard RPCEnvelope.bodySize(ofFrame: frame) <= configuration.maximumFrameSize else {
            throw .status(
                RPCError(
                    .resourceExhausted,
                    "request larger than the \(configuration.maximumFrameSize)-byte frame limit"
                )
            )
        }
        return (id, request, frame)
    }

    private static func status(of failure: Failure) -> RPCError {
        if case .status(let error) = failure { return error }
        return RPCError(.unavailable, "call not sent")
    }

    private func send(_ prepared: Prepared, metadata: [String: String]) async throws(Failure) -> RPCEnvelope {
        let (id, request, frame) = try envelope(prepared, metadata: metadata)
        do {
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { continuation in
                    self.start(id: id, request: request, frame: frame, deadline: prepared.deadline) {
                        continuation.resume(with: $0)
                    }
                }
            } onCancel: {
                self.complete(id, with: .failure(Failure.status(RPCError(.cancelled, "call cancelled"))))
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .status(RPCError(.unknown, "\(error)"))
        }
    }

    private enum StartAction {
        case write(any Channel)
        case wait
        case wake(CheckedContinuation<Void, Never>?)
        case fail(RPCError)
    }

    private func start(
        id: UInt64,
        request: RPCEnvelope,
        frame: ByteBuffer,
        deadline: ContinuousClock.Instant?,
        finish: @escaping @Sendable (Result<RPCEnvelope, any Error>) -> Void
    ) {
        let action = state.withLockedValue { state -> StartAction in
            switch state.connection {
            case .stopped:
                return .fail(.unavailable("client for \(configuration.endpoint) is not running"))
            case .ready(let channel):
                state.pending[id] = PendingCall(phase: .sent(ObjectIdentifier(channel)), finish: finish)
                return .write(channel)
            case .connecting:
                state.pending[id] = PendingCall(
                    phase: .queued(request, firstAttempt: state.attempts + 1),
                    finish: finish
                )
                return .wait
            case .waiting:
                state.pending[id] = PendingCall(
                    phase: .queued(request, firstAttempt: state.attempts + 1),
                    finish: finish
                )
                state.wakeRequested = true
                defer { state.wake = nil }
                return .wake(state.wake)
            }
        }
        switch action {
        case .fail(let error):
            finish(.failure(Failure.status(error)))
            return
        case .write(let channel):
            write(frame, callID: id, on: channel)
        case .wait:
            break
        case .wake(let wake):
            wake?.resume()
        }
        if let deadline {
            let scheduleSweep = state.withLockedValue { state -> Bool in
                guard state.pending[id] != nil else { return false }
                state.pending[id]?.deadline = deadline
                defer { state.sweepScheduled = true }
                return !state.sweepScheduled
            }
            if scheduleSweep { scheduleDeadlineSweep() }
        }
        if Task.isCancelled {
            complete(id, with: .failure(Failure.status(RPCError(.cancelled, "call cancelled"))))
        }
    }

    /// Queues `frame` and makes sure one flush is scheduled on the event loop:
    /// under load, the calls made while a flush is pending go out together in
    /// one `writev` instead of one system call (and one event-loop hop) each.
    private func write(_ frame: ByteBuffer, callID: UInt64, on channel: any Channel) {
        let schedule = state.withLockedValue { state -> Bool in
            state.outbox.append((frame, callID, channel))
            defer { state.flushScheduled = true }
            return !state.flushScheduled
        }
        if schedule {
            channel.eventLoop.execute { self.flushOutbox() }
        }
    }

    private func flushOutbox() {
        let frames = state.withLockedValue { state in
            defer {
                state.outbox = []
                state.flushScheduled = false
            }
            return state.outbox
        }
        var channels: [ObjectIdentifier: any Channel] = [:]
        for (frame, callID, channel) in frames {
            channel.write(frame).whenFailure { _ in
                self.complete(callID, with: .failure(Failure.neverSent))
            }
            channels[ObjectIdentifier(channel)] = channel
        }
        for channel in channels.values { channel.flush() }
    }

    /// Ends a call exactly once: whichever of reply, deadline, cancellation or
    /// connection loss comes first wins.
    func complete(_ callID: UInt64, with result: Result<RPCEnvelope, any Error>) {
        guard let call = state.withLockedValue({ $0.pending.removeValue(forKey: callID) }) else { return }
        call.finish(result)
    }

    private func scheduleDeadlineSweep() {
        eventLoopGroup.any().scheduleTask(in: .nanoseconds(RPCDeadlines.resolution.nanoseconds)) {
            self.sweepDeadlines()
        }
    }

    /// Ends the calls whose deadline has passed; sweeps again while calls
    /// with deadlines remain.
    private func sweepDeadlines() {
        let now = ContinuousClock.now
        let (expired, again) = state.withLockedValue { state -> ([PendingCall], Bool) in
            var expired: [PendingCall] = []
            var waiting = false
            for (id, call) in state.pending {
                guard let deadline = call.deadline else { continue }
                if deadline <= now {
                    expired.append(call)
                    state.pending[id] = nil
                } else {
                    waiting = true
                }
            }
            state.sweepScheduled = waiting
            return (expired, waiting)
        }
        if again { scheduleDeadlineSweep() }
        for call in expired {
            call.finish(.failure(Failure.status(RPCError(.deadlineExceeded, "deadline exceeded"))))
        }
    }

    // MARK: Connection loop

    public func run() async throws {
        state.withLockedValue { state in
            state.connection = .connecting
            state.attempts += 1
            state.wakeRequested = false
        }
        defer { stop() }
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                if let channel = await self.connect() {
                    failures = 0
                    await self.serve(channel)
                } else {
                    failures += 1
                }
                guard !Task.isCancelled else { break }
                self.state.withLockedValue { $0.connection = .waiting }
                await self.sleep(self.backoff(afterFailures: failures))
                self.state.withLockedValue { state in
                    state.connection = .connecting
                    state.attempts += 1
                    state.wakeRequested = false
                }
            }
        }
    }

    /// Full-range jitter on the upper half: uniform in [d/2, d] for d = 50 ms × 2^n, capped.
    private func backoff(afterFailures failures: Int) -> Duration {
        let ceiling = min(configuration.maximumBackoff, configuration.initialBackoff * (1 << min(failures, 16)))
        return ceiling * Double.random(in: 0.5...1.0)
    }

    /// One connection attempt. On success the connection is ready and queued
    /// calls are written; on failure queued calls fail with UNAVAILABLE.
    private func connect() async -> (any Channel)? {
        let maximumFrameSize = configuration.maximumFrameSize
        do {
            let address = try configuration.endpoint.socketAddress
            let channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(.nanoseconds(configuration.connectTimeout.nanoseconds))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try RPCFraming.addHandlers(
                            to: channel.pipeline.syncOperations,
                            maximumFrameSize: maximumFrameSize
                        )
                        try channel.pipeline.syncOperations.addHandler(RPCClientInboundHandler(client: self))
                    }
                }
                .connect(to: address)
                .get()
            let queued = state.withLockedValue { state -> [(UInt64, RPCEnvelope)] in
                state.connection = .ready(channel)
                var queued: [(UInt64, RPCEnvelope)] = []
                for (id, call) in state.pending {
                    if case .queued(let request, _) = call.phase {
                        queued.append((id, request))
                        state.pending[id]?.phase = .sent(ObjectIdentifier(channel))
                    }
                }
                return queued
            }
            logger.debug("rpc client connected", metadata: ["rpc.endpoint": "\(configuration.endpoint)"])
            for (id, request) in queued {
                write(request.frame(allocator: channel.allocator), callID: id, on: channel)
            }
            return channel
        } catch {
            logger.debug(
                "rpc client cannot connect",
                metadata: ["rpc.endpoint": "\(configuration.endpoint)", "error": "\(error)"]
            )
            failQueued(with: .unavailable("\(configuration.endpoint) is unavailable"))
            return nil
        }
    }

    /// Waits until the connection closes (or the loop is cancelled, which closes it).
    private func serve(_ channel: any Channel) async {
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        let lost = state.withLockedValue { state -> [PendingCall] in
            var lost: [PendingCall] = []
            for (id, call) in state.pending {
                if case .sent(let channelID) = call.phase, channelID == ObjectIdentifier(channel) {
                    lost.append(call)
                    state.pending[id] = nil
                }
            }
            return lost
        }
        logger.debug(
            "rpc client disconnected",
            metadata: ["rpc.endpoint": "\(configuration.endpoint)", "rpc.lost_calls": "\(lost.count)"]
        )
        for call in lost {
            call.finish(.failure(Failure.connectionLost))
        }
    }

    /// After a failed attempt: fails the calls that attempt was made for; calls
    /// that arrived during it ask for another attempt at once.
    private func failQueued(with error: RPCError) {
        let failed = state.withLockedValue { state -> [PendingCall] in
            var failed: [PendingCall] = []
            for (id, call) in state.pending {
                guard case .queued(_, let firstAttempt) = call.phase else { continue }
                if firstAttempt <= state.attempts {
                    failed.append(call)
                    state.pending[id] = nil
                } else {
                    state.wakeRequested = true
                }
            }
            return failed
        }
        for call in failed {
            call.finish(.failure(Failure.status(error)))
        }
    }

    /// Sleeps for `duration`, or less when a call asks for a connection.
    private func sleep(_ duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLockedValue { state in
                    if state.wakeRequested { return true }
                    state.wake = continuation
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else if Task.isCancelled {
                    takeWake()?.resume()
                }
            }
        } onCancel: {
            self.takeWake()?.resume()
        }
    }

    private func takeWake() -> CheckedContinuation<Void, Never>? {
        state.withLockedValue { state in
            defer { state.wake = nil }
            return state.wake
        }
    }

    private func stop() {
        let (pending, wake) = state.withLockedValue { state in
            state.connection = .stopped
            defer {
                state.pending = [:]
                state.wake = nil
            }
            return (Array(state.pending.values), state.wake)
        }
        wake?.resume()
        for call in pending {
            call.finish(.failure(Failure.status(.unavailable("client for \(configuration.endpoint) stopped"))))
        }
    }
}

/// Hands replies to the client and closes the connection on a bad frame.
final class RPCClientInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let client: RPCClient

    init(client: RPCClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let reply = try RPCEnvelope(frame: frame)
            guard reply.kind == .response else {
                throw RPCEnvelope.DecodingError(description: "server sent a request frame")
            }
            client.complete(reply.callID, with: .success(reply))
        } catch {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
