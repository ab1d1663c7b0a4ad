public import HarepostProto
public import NIOCore

/// Typed registration: a handler per generated method type
/// (`StoreV1.Store.GetDelivery.self`) takes and returns that method's
/// contract types. Each wraps the untyped handler of the same style; a view
/// over a message is the message itself, so the wrapping costs nothing.
extension RPCRouter {
    /// Registers `handler` for `method`, run in a task of its own (see ``register(_:_:)``).
    public mutating func register<Method: RPCMethodContract>(
        _ method: Method.Type,
        _ handler: @escaping @Sendable (Method.Input, RPCContext) async throws -> Method.Output
    ) throws {
        try register(Method.path) { request, context in
            try await handler(Method.Input(unchecked: request), context).protoMessage
        }
    }

    /// Registers `handler` for `method`, answered on the connection's event
    /// loop (see ``register(_:immediate:)``).
    public mutating func register<Method: RPCMethodContract>(
        _ method: Method.Type,
        immediate handler: @escaping @Sendable (Method.Input, RPCContext) throws -> Method.Output
    ) throws {
        try register(
            Method.path,
            immediate: { request, context in
                try handler(Method.Input(unchecked: request), context).protoMessage
            }
        )
    }

    /// Registers `handler` for `method`, started on the connection's event
    /// loop and answered when it completes the promise it is given (see
    /// ``register(_:future:)``).
    public mutating func register<Method: RPCMethodContract>(
        _ method: Method.Type,
        future handler: @escaping @Sendable (Method.Input, RPCContext, RPCPromise<Method.Output>) -> Void
    ) throws {
        try register(
            Method.path,
            future: { request, context, eventLoop in
                let promise = RPCPromise<Method.Output>(on: eventLoop)
                handler(Method.Input(unchecked: request), context, promise)
                return promise.promise.futureResult
            }
        )
    }
}

/// The answer to a future call (``RPCRouter/register(_:future:)``), to be
/// completed once from any thread: a typed face on an event-loop promise of
/// the response message, so answering needs no second future.
public struct RPCPromise<Output: ProtoContract>: Sendable {
    let promise: EventLoopPromise<ProtoMessage>

    public init(on eventLoop: any EventLoop) {
        self.promise = eventLoop.makePromise(of: ProtoMessage.self)
    }

    /// The event loop the call was read on.
    public var eventLoop: any EventLoop { promise.futureResult.eventLoop }

    public func succeed(_ output: Output) { promise.succeed(output.protoMessage) }

    public func fail(_ error: any Error) { promise.fail(error) }

    public func complete(with result: Result<Output, any Error>) {
        promise.completeWith(result.map(\.protoMessage))
    }

    /// Waits for the answer (for callers outside the RPC server, such as tests).
    public func get() async throws -> Output {
        Output(unchecked: try await promise.futureResult.get())
    }
}
