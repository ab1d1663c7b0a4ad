public import HarepostContracts
public import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A call, from the caller's request to its answer: options, retries of
/// idempotent calls, the envelope, and the two calling styles (async and
/// callback), which share everything but the way the answer is handed back.
extension RPCClient {
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

    func attempt(
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

    func perform(_ path: String, _ request: ProtoMessage, options: RPCCallOptions)
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
    struct Prepared: Sendable {
        let path: String
        let method: ServiceDescriptor.Method
        let payload: [UInt8]
        let deadline: ContinuousClock.Instant?
    }

    func prepare(_ path: String, _ request: ProtoMessage, options: RPCCallOptions) throws(RPCError) -> Prepared {
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

    enum Decision {
        case retry
        case done(Result<ProtoMessage, RPCError>)
    }

    /// What an attempt's outcome means: the call's answer or error, or one
    /// more attempt (once: for a request that never left, or one lost with
    /// its connection when the call is idempotent).
    func decide(
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
    public func checkHealth(timeout: Duration) async throws(RPCError) -> RPCV1.HealthCheckResponse {
        try await call(
            RPCHealth.Check.self,
            RPCV1.HealthCheckRequest(),
            options: RPCCallOptions(timeout: timeout, idempotent: true)
        )
    }

    /// The attempt's envelope and frame under a new call id.
    func envelope(_ prepared: Prepared, metadata: [String: String]) throws(Failure) -> (
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

    static func status(of failure: Failure) -> RPCError {
        if case .status(let error) = failure { return error }
        return RPCError(.unavailable, "call not sent")
    }

    func send(_ prepared: Prepared, metadata: [String: String]) async throws(Failure) -> RPCEnvelope {
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
}
