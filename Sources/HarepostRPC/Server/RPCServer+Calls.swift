import Foundation
import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One call, from its request envelope to its response: routing, decoding,
/// running the handler in its calling style under its deadline, measuring.
extension RPCServer {
    /// `response` as a frame; an answer over the frame limit becomes RESOURCE_EXHAUSTED.
    func encode(_ response: RPCEnvelope, allocator: ByteBufferAllocator) -> ByteBuffer {
        let frame = response.frame(allocator: allocator)
        guard RPCEnvelope.bodySize(ofFrame: frame) > configuration.maximumFrameSize else { return frame }
        let error = RPCError(
            .resourceExhausted,
            "response larger than the \(configuration.maximumFrameSize)-byte frame limit"
        )
        return RPCEnvelope.response(callID: response.callID, error: error).frame(allocator: allocator)
    }

    /// Runs one call to its response envelope, and measures it; never throws.
    func answer(_ request: RPCEnvelope, eventLoop: any EventLoop) async -> RPCEnvelope {
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
    func answerImmediately(
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
    static func runImmediately(
        _ handler: RPCImmediateHandler,
        _ message: ProtoMessage,
        _ context: RPCContext
    ) -> Result<ProtoMessage, any Error> {
        if let deadline = context.deadline, deadline <= .now {
            return .failure(RPCError(.deadlineExceeded, "deadline exceeded before the call started"))
        }
        return Result { try handler(message, context) }
    }

    func route(for method: String) -> RPCRouter.Route? {
        router.route(for: method)
    }

    func record(_ request: RPCEnvelope, _ response: RPCEnvelope, since started: ContinuousClock.Instant) {
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

    enum Preparation {
        /// The call cannot run (unknown method, undecodable request): its answer.
        case answered(RPCEnvelope)
        case call(RPCRouter.Route, ProtoMessage, RPCContext)
    }

    /// Decodes the request message for `route` (the method's, nil when unknown).
    func prepare(_ request: RPCEnvelope, route: RPCRouter.Route?) -> Preparation {
        guard let route else {
            return .answered(
                .response(callID: request.callID, error: RPCError(.unimplemented, "unknown method \(request.method)"))
            )
        }
        let message: ProtoMessage
        do {
            message = try ProtoMessage(serializedBytes: request.payload, as: route.method.input)
        } catch {
            return .answered(.response(callID: request.callID, error: Self.invalidRequest(error, route: route)))
        }
        let deadline =
            request.timeoutMilliseconds > 0
            ? ContinuousClock.now + .milliseconds(Int64(clamping: request.timeoutMilliseconds)) : nil
        let context = RPCContext(method: request.method, metadata: request.metadata, deadline: deadline, logger: logger)
        return .call(route, message, context)
    }

    /// Why a request payload could not be decoded as the method's input.
    static func invalidRequest(_ error: ProtoError, route: RPCRouter.Route) -> RPCError {
        switch error {
        case .nestingTooDeep:
            .invalidArgument("request nests messages too deeply (more than \(ProtoMessage.maximumNestingDepth) levels)")
        case .invalidUTF8(_, let field): .invalidArgument("request field \(field) is not valid UTF-8")
        default: .invalidArgument("request is not a valid \(route.method.input.fullName)")
        }
    }

    /// The response envelope for a handler's outcome: its message, or its
    /// error as a status (an unexpected error is INTERNAL, without detail).
    static func response(
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
    static func run(
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
}
