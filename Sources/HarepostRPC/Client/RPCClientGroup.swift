public import HarepostContracts
public import HarepostProto
public import Logging
import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// What makes calls to one RPC service: an ``RPCClient`` (one connection) or
/// an ``RPCClientGroup`` (one connection per event loop). Run it as a service
/// while calls are made.
public protocol RPCCaller: Service {
    /// Calls `path` (`harepost.store.v1.Store/GetDelivery`) with `request`.
    func call(_ path: String, _ request: ProtoMessage, options: RPCCallOptions) async throws(RPCError)
        -> ProtoMessage
    /// Calls `path` with `request` and hands the outcome to `completion`
    /// (``RPCClient/call(_:_:options:completion:)``): for callers with no task.
    func call(
        _ path: String,
        _ request: ProtoMessage,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<ProtoMessage, RPCError>) -> Void
    )
    /// The server's `harepost.rpc.v1.Health/Check` answer.
    func checkHealth(timeout: Duration) async throws(RPCError) -> RPCV1.HealthCheckResponse
}

extension RPCCaller {
    public func call(_ path: String, _ request: ProtoMessage) async throws(RPCError) -> ProtoMessage {
        try await call(path, request, options: RPCCallOptions())
    }

    public func checkHealth() async throws(RPCError) -> RPCV1.HealthCheckResponse {
        try await checkHealth(timeout: .seconds(2))
    }
}

extension RPCClient: RPCCaller {}

/// Clients of one RPC service, one per event loop of a group, each with its
/// own connection; a call goes out on the client of the event loop it is made
/// from (the first client's when made elsewhere).
///
/// A process that serves requests on several event loops (the gateway) keeps
/// each request on its own loop from the HTTP read to the RPC reply: no hop to
/// another thread to write the call or to resume after the answer. The server
/// side gains too: its connections are spread over its event loops, so its
/// immediate handlers (``RPCRouter/register(_:immediate:)``) run on all of
/// them instead of the one that serves a single connection.
public final class RPCClientGroup: RPCCaller, Sendable {
    private let clients: [RPCClient]
    private let clientByLoop: [ObjectIdentifier: RPCClient]

    public init(
        configuration: RPCClient.Configuration,
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        var clients: [RPCClient] = []
        var clientByLoop: [ObjectIdentifier: RPCClient] = [:]
        for loop in eventLoopGroup.makeIterator() {
            let client = RPCClient(configuration: configuration, logger: logger, eventLoop: loop)
            clients.append(client)
            clientByLoop[ObjectIdentifier(loop)] = client
        }
        self.clients = clients
        self.clientByLoop = clientByLoop
    }

    /// The client of the calling thread's event loop, else the first.
    private var current: RPCClient {
        if let loop = MultiThreadedEventLoopGroup.currentEventLoop, let client = clientByLoop[ObjectIdentifier(loop)] {
            return client
        }
        return clients[0]
    }

    public func call(_ path: String, _ request: ProtoMessage, options: RPCCallOptions) async throws(RPCError)
        -> ProtoMessage
    {
        try await current.call(path, request, options: options)
    }

    public func call(
        _ path: String,
        _ request: ProtoMessage,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<ProtoMessage, RPCError>) -> Void
    ) {
        current.call(path, request, options: options, completion: completion)
    }

    /// Every connection's health, asked at once: a failure if any fails,
    /// else one of the answers.
    public func checkHealth(timeout: Duration) async throws(RPCError) -> RPCV1.HealthCheckResponse {
        let answers = await withTaskGroup(of: Result<RPCV1.HealthCheckResponse, RPCError>.self) { group in
            for client in clients {
                group.addTask {
                    do throws(RPCError) {
                        return .success(try await client.checkHealth(timeout: timeout))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var answer: RPCV1.HealthCheckResponse?
        for result in answers {
            switch result {
            case .success(let message): answer = message
            case .failure(let error): throw error
            }
        }
        return answer!
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients { group.addTask { try await client.run() } }
        }
    }
}
