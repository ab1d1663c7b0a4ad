public import HarepostContracts
public import HarepostProto
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// An ``RPCCaller`` that answers from a router in the same process, with no
/// socket: for tests of a component that calls another (the dispatcher
/// against a store). Requests and answers still go through the wire format,
/// so a message a real peer would refuse is refused here too; each handler
/// runs in its registered style (task, immediate, future).
public final class InProcessCaller: RPCCaller, Sendable {
    private let router: RPCRouter
    private let logger: Logger

    public init(router: RPCRouter, logger: Logger) {
        self.router = router
        self.logger = logger
    }

    public func call(_ path: String, _ request: ProtoMessage, options: RPCCallOptions) async throws(RPCError)
        -> ProtoMessage
    {
        guard let route = router.route(for: path) else { throw RPCError(.unimplemented, "unknown method \(path)") }
        let message: ProtoMessage
        do {
            message = try ProtoMessage(serializedBytes: request.serializedBytes(), as: route.method.input)
        } catch {
            throw RPCServer.invalidRequest(error, route: route)
        }
        let context = RPCContext(
            method: path,
            metadata: options.metadata,
            deadline: options.timeout.map { ContinuousClock.now + $0 },
            logger: logger
        )
        let answer: ProtoMessage
        do {
            switch route.handler {
            case .task(let handler): answer = try await handler(message, context)
            case .immediate(let handler): answer = try handler(message, context)
            case .future(let handler):
                answer = try await handler(message, context, MultiThreadedEventLoopGroup.singleton.next()).get()
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.internal, "internal error")
        }
        do {
            return try ProtoMessage(serializedBytes: answer.serializedBytes(), as: route.method.output)
        } catch {
            throw RPCError(.internal, "the handler's answer is not a valid \(route.method.output.fullName)")
        }
    }

    public func call(
        _ path: String,
        _ request: ProtoMessage,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<ProtoMessage, RPCError>) -> Void
    ) {
        Task {
            do throws(RPCError) {
                completion(.success(try await call(path, request, options: options)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    public func checkHealth(timeout: Duration) async throws(RPCError) -> RPCV1.HealthCheckResponse {
        RPCHealth.response(component: "in-process", version: HarepostRPCVersion.current, draining: false, inFlight: 0)
    }

    /// Nothing to run: waits until shut down.
    public func run() async throws {
        try? await gracefulShutdown()
    }
}
