public import HarepostProto
public import Logging
public import NIOCore

/// What a handler knows about the call it serves.
public struct RPCContext: Sendable {
    /// The RPC path, e.g. `harepost.store.v1.Store/GetDelivery`.
    public let method: String
    /// The call's metadata (see ``RPCMetadataKey``).
    public let metadata: [String: String]
    /// When the caller stops waiting. The handler is cancelled at this point;
    /// long polls should answer before it.
    public let deadline: ContinuousClock.Instant?
    private let baseLogger: Logger

    /// `logger` gets the call's `rpc.method` and `request.id` as metadata.
    public init(method: String, metadata: [String: String], deadline: ContinuousClock.Instant?, logger: Logger) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.baseLogger = logger
    }

    /// A logger carrying `rpc.method` and `request.id`. It is made when asked
    /// for: setting logger metadata copies the metadata and re-renders it in
    /// the log handler, and most calls log nothing.
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "rpc.method"] = "\(method)"
        if let requestID { logger[metadataKey: "request.id"] = "\(requestID)" }
        return logger
    }

    public var requestID: String? { metadata[RPCMetadataKey.requestID] }

    /// The level of ``logger``, without making it: check it before a line
    /// that is usually below it (`if context.logLevel <= .debug { … }`).
    public var logLevel: Logger.Level { baseLogger.logLevel }
}

/// Answers one call: a request message in, a response message out, or an
/// ``RPCError`` thrown.
public typealias RPCHandler = @Sendable (ProtoMessage, RPCContext) async throws -> ProtoMessage

/// Answers one call without suspending: see ``RPCRouter/register(_:immediate:)``.
public typealias RPCImmediateHandler = @Sendable (ProtoMessage, RPCContext) throws -> ProtoMessage

/// Starts one call without suspending and answers when the future completes:
/// see ``RPCRouter/register(_:future:)``.
public typealias RPCFutureHandler =
    @Sendable (ProtoMessage, RPCContext, any EventLoop) -> EventLoopFuture<ProtoMessage>

/// Maps RPC paths to handlers. Registration checks the path against the
/// descriptors compiled from `proto/`, so a typo fails at start-up.
public struct RPCRouter: Sendable {
    struct Route: Sendable {
        enum Handler: Sendable {
            /// Runs in a task of its own, cancelled at the call's deadline.
            case task(RPCHandler)
            /// Runs on the connection's event loop as the request is read.
            case immediate(RPCImmediateHandler)
            /// Starts on the connection's event loop as the request is read;
            /// answered when its future completes.
            case future(RPCFutureHandler)
        }

        let method: ServiceDescriptor.Method
        let handler: Handler
    }

    public struct UnknownMethodError: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "no RPC method \(path) in the compiled proto contracts" }
    }

    private(set) var routes: [String: Route] = [:]

    /// Whether the service can do its work; `Health/Check` answers
    /// NOT_SERVING while this is false (the store while its disk refuses
    /// writes). Asked on an event loop at every health check: it must not wait.
    public var isServing: @Sendable () -> Bool = { true }

    public init() {}

    /// Registers a handler for `path` (`harepost.store.v1.Store/GetDelivery`).
    public mutating func register(_ path: String, _ handler: @escaping RPCHandler) throws {
        try add(path, .task(handler))
    }

    /// Registers a handler that answers on the connection's event loop, in
    /// the same turn that read the request: no task, no thread hand-off, and
    /// the answer shares the flush of the other answers of that read.
    ///
    /// Only for work that finishes in microseconds and never waits: a lookup
    /// by key in a local database, a counter read. Anything that can block for
    /// longer (a write that waits for its commit, a scan, a network call, a
    /// long poll) stalls every connection on that event loop; register it with
    /// ``register(_:_:)`` instead. The call's deadline is checked before the
    /// handler runs; the handler itself is not interrupted.
    public mutating func register(_ path: String, immediate handler: @escaping RPCImmediateHandler) throws {
        try add(path, .immediate(handler))
    }

    /// Registers a handler that starts on the connection's event loop, in the
    /// turn that read the request, and hands its work to something that
    /// completes it later, such as a group commit: the answer is written when
    /// the returned future completes, with no task per call and no thread
    /// hand-off on the way in or out. The handler gets the connection's event
    /// loop; its future may belong to any loop.
    ///
    /// Like ``register(_:immediate:)``, the handler itself must not wait. The
    /// call's deadline is checked before it starts; if the future has not
    /// completed by the deadline, the call is answered DEADLINE_EXCEEDED,
    /// though the work already handed off is not taken back.
    public mutating func register(_ path: String, future handler: @escaping RPCFutureHandler) throws {
        try add(path, .future(handler))
    }

    private mutating func add(_ path: String, _ handler: Route.Handler) throws {
        guard let method = ServiceDescriptor.method(path: path) else { throw UnknownMethodError(path: path) }
        routes[path] = Route(method: method, handler: handler)
    }

    func route(for path: String) -> Route? { routes[path] }
}

extension RPCContext {
    /// The account the call acts for (``RPCMetadataKey/accountID``). Account-scoped
    /// methods call this first: a call without one is UNAUTHENTICATED.
    public func requireAccountID() throws(RPCError) -> String {
        guard let account = metadata[RPCMetadataKey.accountID], !account.isEmpty else {
            throw .unauthenticated("the call carries no account (metadata \(RPCMetadataKey.accountID))")
        }
        return account
    }

    /// Whether the gateway made this call on behalf of a public HTTP client.
    public var isPublicOrigin: Bool { metadata[RPCMetadataKey.origin] == "public" }
}
