public import HarepostProto
public import Logging

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
    /// the log handler, and most calls log nothing (docs/benchmarks.md).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "rpc.method"] = "\(method)"
        if let requestID { logger[metadataKey: "request.id"] = "\(requestID)" }
        return logger
    }

    public var requestID: String? { metadata[RPCMetadataKey.requestID] }
}

/// Answers one call: a request message in, a response message out, or an
/// ``RPCError`` thrown.
public typealias RPCHandler = @Sendable (ProtoMessage, RPCContext) async throws -> ProtoMessage

/// Maps RPC paths to handlers. Registration checks the path against the
/// descriptors compiled from `proto/`, so a typo fails at start-up.
public struct RPCRouter: Sendable {
    struct Route: Sendable {
        let method: ServiceDescriptor.Method
        let handler: RPCHandler
    }

    public struct UnknownMethodError: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "no RPC method \(path) in the compiled proto contracts" }
    }

    private(set) var routes: [String: Route] = [:]

    public init() {}

    /// Registers a handler for `path` (`harepost.store.v1.Store/GetDelivery`).
    public mutating func register(_ path: String, _ handler: @escaping RPCHandler) throws {
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
