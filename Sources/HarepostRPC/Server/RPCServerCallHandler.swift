import Foundation
import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Decodes each frame into a request envelope. A call to an immediate method
/// (``RPCRouter/register(_:immediate:)``) is answered right here on the event
/// loop, and its answer flushed with the others of the same read. A call to a
/// future method (``RPCRouter/register(_:future:)``) starts here and is
/// answered here when its future completes. Every other request goes on to
/// the connection's task. A frame that is not a request envelope fails the
/// connection.
final class RPCServerCallHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = RPCEnvelope
    typealias OutboundOut = ByteBuffer

    /// A started future call: answered once, by its future or its deadline.
    private final class PendingCall {
        var answered = false
        let deadline: ContinuousClock.Instant
        /// Answers DEADLINE_EXCEEDED; nil once answered (it refers to the call).
        var expire: (() -> Void)?

        init(deadline: ContinuousClock.Instant) {
            self.deadline = deadline
        }
    }

    private let server: RPCServer
    /// Immediate calls answered (written) but not yet flushed. They count as
    /// in flight (health's `in_flight`) until the flush. They need no
    /// per-connection count: a drain closes a connection with a task on its
    /// event loop, which cannot run between a read and its flush. (The
    /// connection may even get here before its task has registered it.)
    private var unflushed = 0
    /// Answers written outside a read (refusals, future calls' answers) and
    /// not yet flushed.
    private var needsFlush = false
    /// Future calls answered but not yet flushed. They count on the
    /// connection too: a drain waits for them, and closes the connection
    /// only after their answers are flushed.
    private var futureUnflushed = 0
    private var flushScheduled = false
    private var active = true
    private var failed = false
    /// Future calls with a deadline, answered ones removed at the next sweep;
    /// swept every `RPCDeadlines.resolution` while any remain.
    private var timed: [PendingCall] = []
    private var sweepScheduled = false

    init(server: RPCServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let request: RPCEnvelope
        do {
            request = try RPCEnvelope(frame: unwrapInboundIn(data))
            guard request.kind == .request else {
                throw RPCEnvelope.DecodingError(description: "a client sent a frame that is not a request")
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            return
        }
        switch server.route(for: request.method)?.handler {
        case .immediate(let handler):
            answerImmediately(request, handler: handler, context: context)
        case .future(let handler):
            start(request, handler: handler, context: context)
        case .task, nil:
            context.fireChannelRead(wrapInboundOut(request))
        }
    }

    private func answerImmediately(
        _ request: RPCEnvelope,
        handler: @escaping RPCImmediateHandler,
        context: ChannelHandlerContext
    ) {
        let answer: RPCEnvelope
        if server.beginImmediateCall() {
            unflushed += 1
            answer = server.answerImmediately(request, route: server.route(for: request.method)!, handler: handler)
        } else {
            answer = .response(callID: request.callID, error: .unavailable("server is shutting down"))
            needsFlush = true
        }
        context.write(wrapOutboundOut(server.encode(answer, allocator: context.channel.allocator)), promise: nil)
    }

    /// Starts a future call; its answer is written when the future (or the
    /// deadline) comes, and flushed with the others of that event-loop turn.
    private func start(_ request: RPCEnvelope, handler: @escaping RPCFutureHandler, context: ChannelHandlerContext) {
        let connection = ObjectIdentifier(context.channel)
        guard server.beginCall(on: connection, channel: context.channel) else {
            let refusal = RPCEnvelope.response(callID: request.callID, error: .unavailable("server is shutting down"))
            context.write(wrapOutboundOut(server.encode(refusal, allocator: context.channel.allocator)), promise: nil)
            needsFlush = true
            return
        }
        let started = ContinuousClock.now
        let route: RPCRouter.Route
        let message: ProtoMessage
        let callContext: RPCContext
        switch server.prepare(request, route: server.route(for: request.method)) {
        case .answered(let answer):
            server.record(request, answer, since: started)
            write(answer, context: context)
            return
        case .call(let preparedRoute, let preparedMessage, let preparedContext):
            (route, message, callContext) = (preparedRoute, preparedMessage, preparedContext)
        }
        var answered = false
        var call: PendingCall?
        let finish = { (outcome: Result<ProtoMessage, any Error>) in
            guard !answered else { return }
            answered = true
            call?.answered = true
            call?.expire = nil
            let answer = RPCServer.response(to: request, route: route, context: callContext, outcome: outcome)
            self.server.record(request, answer, since: started)
            self.write(answer, context: context)
        }
        if let deadline = callContext.deadline {
            guard deadline > .now else {
                finish(.failure(RPCError(.deadlineExceeded, "deadline exceeded before the call started")))
                return
            }
            let timed = PendingCall(deadline: deadline)
            timed.expire = { finish(.failure(RPCError(.deadlineExceeded, "deadline exceeded"))) }
            call = timed
            self.timed.append(timed)
            scheduleSweep(context: context)
        }
        handler(message, callContext, context.eventLoop).hop(to: context.eventLoop).assumeIsolated()
            .whenComplete(finish)
    }

    private func scheduleSweep(context: ChannelHandlerContext) {
        guard !sweepScheduled else { return }
        sweepScheduled = true
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(RPCDeadlines.resolution.nanoseconds)) {
            self.sweepScheduled = false
            self.sweep(context: context)
        }
    }

    /// Answers the calls whose deadline has passed; sweeps again while calls
    /// with deadlines remain.
    private func sweep(context: ChannelHandlerContext) {
        let now = ContinuousClock.now
        var expired: [PendingCall] = []
        timed.removeAll { call in
            if call.answered { return true }
            guard call.deadline <= now else { return false }
            expired.append(call)
            return true
        }
        for call in expired { call.expire?() }
        if !timed.isEmpty { scheduleSweep(context: context) }
    }

    /// Writes a future call's answer; one flush per event-loop turn covers
    /// every answer written in it.
    private func write(_ answer: RPCEnvelope, context: ChannelHandlerContext) {
        futureUnflushed += 1
        if active {
            context.write(wrapOutboundOut(server.encode(answer, allocator: context.channel.allocator)), promise: nil)
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.flushAnswers(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAnswers(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        flushAnswers(context: context)
        active = false
        context.fireChannelInactive()
    }

    private func flushAnswers(context: ChannelHandlerContext) {
        guard unflushed > 0 || futureUnflushed > 0 || needsFlush else { return }
        let (immediate, future) = (unflushed, futureUnflushed)
        (unflushed, futureUnflushed, needsFlush) = (0, 0, false)
        if active { context.flush() }
        if immediate > 0 { server.endImmediateCalls(immediate) }
        // After the flush: ending the last call of a draining connection closes it.
        if future > 0 { server.endCall(on: ObjectIdentifier(context.channel), count: future) }
    }
}
