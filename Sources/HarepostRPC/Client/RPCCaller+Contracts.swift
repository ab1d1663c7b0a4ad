public import HarepostProto

/// Typed calls: a generated method type (`StoreV1.Store.GetDelivery.self`)
/// fixes the path, the request type and the response type. The server's
/// answer is decoded as the method's output type, so the view needs no check.
extension RPCCaller {
    public func call<Method: RPCMethodContract>(
        _ method: Method.Type,
        _ request: Method.Input,
        options: RPCCallOptions = RPCCallOptions()
    ) async throws(RPCError) -> Method.Output {
        Method.Output(unchecked: try await call(Method.path, request.protoMessage, options: options))
    }

    /// The callback style (``RPCCaller/call(_:_:options:completion:)``), for callers with no task.
    public func call<Method: RPCMethodContract>(
        _ method: Method.Type,
        _ request: Method.Input,
        options: RPCCallOptions,
        completion: @escaping @Sendable (Result<Method.Output, RPCError>) -> Void
    ) {
        call(Method.path, request.protoMessage, options: options) { result in
            completion(result.map(Method.Output.init(unchecked:)))
        }
    }
}
