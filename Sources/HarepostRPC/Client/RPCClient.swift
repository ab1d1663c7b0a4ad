import HarepostProto
import HarepostTime
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

    enum Connection {
        case stopped
        case connecting
        case ready(any Channel)
        case waiting
    }

    struct PendingCall {
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

    struct State {
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
    let logger: Logger
    /// Where the connection lives: an event loop group, or one event loop
    /// (each client of an ``RPCClientGroup``).
    let eventLoopGroup: any EventLoopGroup
    let state = NIOLockedValueBox(State())

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
