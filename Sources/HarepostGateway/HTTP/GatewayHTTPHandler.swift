import Logging
import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection: collects each request (head and body, up
/// to the size limit), hands it to the responder and writes the answer.
///
/// It sits behind NIO's HTTP request decoder and writes responses as bytes
/// itself (``HTTPResponseEncoding``). The request runs in a task of its own
/// only for the responder's async work (the backend calls); reading, writing
/// and the connection's state stay on its event loop, with no per-connection
/// task and no async stream in between: per-request machinery of that kind
/// costs more than the gateway's own work.
///
/// What one client can make it hold is bounded (``GatewayHTTPLimits``):
/// - Pipelining: requests are answered one at a time, in order. Parts of a
///   request that arrive while another is being answered wait in a queue,
///   and the connection stops reading until the queue is empty. A request
///   beyond ``GatewayHTTPLimits/maximumPipelinedRequests`` in the queue is
///   refused (429) and nothing after it is read. (NIO's pipelining handler
///   stops reading while *any* answer is pending, which costs two
///   `epoll_ctl` calls per request for clients that do not pipeline.)
/// - Back-pressure: while the answers not yet taken by the client exceed
///   the channel's high water mark, the next request is not answered and
///   nothing is read, until the client reads them down to the low mark.
/// - Time: each phase of a connection (idle between requests, reading a
///   head, reading a body, waiting for the client to read) has a limit,
///   checked by the event loop's ``ConnectionSweeper``.
/// - Errors: malformed HTTP, an over-long target or head, a body over the
///   limit and a timeout each get their status and the `{error, detail}`
///   body, after the answers to the requests before them; then the gateway
///   shuts its sending side and reads and drops what the client still
///   sends (up to a bound) until it closes, so that a client still writing
///   gets the answer, not a reset.
final class GatewayHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the decoder delivered, in order.
    private enum Input {
        case part(HTTPServerRequestPart)
        /// The bytes stopped being HTTP here.
        case malformed(HTTPParserError)
        /// The request over the pipelining limit; nothing after it is read.
        case overPipelineLimit
    }

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        case responding(keepAlive: Bool, version: HTTPVersion, isHead: Bool)
        /// A request was refused (413, 408, malformed, ...): the answer is
        /// out and the sending side shut; what the client still sends is
        /// read and dropped, up to a bound, until it closes.
        case draining(dropped: Int)
        /// The last answer is written; the connection closes once it is out.
        case closing
    }

    /// What the connection is waiting for, each with its time limit.
    enum Phase {
        /// Between requests, no byte of the next one yet.
        case idle
        /// Part of a request head has arrived.
        case head
        /// The head is in; the body is arriving.
        case body
        /// Dropping what follows a refusal.
        case drain
        /// Answers wait for the client to read them.
        case send
        /// A backend call is answering: its own deadline bounds it.
        case answering
    }

    private let responder: any GatewayResponding
    private let limits: GatewayHTTPLimits
    private let sweeper: ConnectionSweeper
    private var context: ChannelHandlerContext?
    private var state = State.idle
    /// Input read while an answer is pending.
    private var queued = CircularBuffer<Input>()
    /// Request heads in `queued`.
    private var queuedRequests = 0
    /// A request went over the pipelining limit: the rest is not read.
    private var overPipelineLimit = false
    /// A read the channel asked for while parts were queued or answers
    /// waited for the client.
    private var readDeferred = false
    /// The unsent answers are over the high water mark.
    private var awaitingWritability = false
    /// Bytes of a next request arrived while idle.
    private var requestStarted = false
    /// The server is draining: close once the current answer is written.
    private var quiescing = false
    /// The client closed its sending side: answer what it sent, then close.
    private var inputClosed = false
    /// The end of the last answer written, for closing after it is out.
    private var lastWrite: EventLoopFuture<Void>?
    /// Whether ``handleQueued(context:)`` is running.
    private var handlingQueued = false
    private(set) var phase = Phase.idle
    /// When `phase` began, in the sweeper's coarse time.
    private var phaseStarted: NIODeadline

    init(responder: any GatewayResponding, limits: GatewayHTTPLimits, sweeper: ConnectionSweeper) {
        self.responder = responder
        self.limits = limits
        self.sweeper = sweeper
        self.phaseStarted = sweeper.now
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        phaseStarted = sweeper.now
        sweeper.add(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweeper.remove(self)
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .draining, .closing:
            // After a refusal: counted (bounded) and dropped.
            return handle(.part(part), context: context)
        default:
            break
        }
        if overPipelineLimit { return }
        if mustQueue {
            if case .head = part {
                queuedRequests += 1
                if queuedRequests > limits.maximumPipelinedRequests {
                    overPipelineLimit = true
                    queued.append(.overPipelineLimit)
                    return
                }
            }
            queued.append(.part(part))
        } else {
            handle(.part(part), context: context)
        }
        updatePhase()
    }

    /// Called by ``RequestStartObserver`` for every read, before the decoder.
    func bytesArrived() {
        guard case .idle = state, !requestStarted, !mustQueue else { return }
        requestStarted = true
        updatePhase()
    }

    private var mustQueue: Bool {
        isResponding || awaitingWritability || !queued.isEmpty
    }

    private func handle(_ input: Input, context: ChannelHandlerContext) {
        let part: HTTPServerRequestPart
        switch input {
        case .part(let decoded): part = decoded
        case .malformed(let error): return refuse(Self.response(for: error), version: .http1_1, context: context)
        case .overPipelineLimit: return refuse(GatewayHTTPError.tooManyPipelined(limits), context: context)
        }
        switch (part, state) {
        case (.head(let head), .idle):
            requestStarted = false
            if let refusal = check(head) {
                refuse(refusal, version: head.version.major == 1 ? head.version : .http1_1, context: context)
            } else if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > limits.maximumBodyBytes
            {
                refuseBody(head, context: context)
            } else {
                state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
                if head.version == .http1_1, head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                    // The client waits for this before it sends the body.
                    let interim = HTTPResponseEncoding.continueHead(allocator: context.channel.allocator)
                    context.writeAndFlush(wrapOutboundOut(interim), promise: nil)
                }
            }
        case (.body(var part), .receiving(let head, var body)):
            guard body.readableBytes + part.readableBytes <= limits.maximumBodyBytes else {
                refuseBody(head, context: context)
                return
            }
            state = .idle  // drop the reference so `body` is uniquely owned while it grows
            body.writeBuffer(&part)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding(keepAlive: head.isKeepAlive, version: head.version, isHead: head.method == .HEAD)
            respond(to: head, body: body, context: context)
        case (.body(let part), .draining):
            drop(part.readableBytes, context: context)
        case (.end, .draining):
            state = .closing
            closeAfterLastWrite(context: context)
        case (_, .draining), (_, .closing):
            break
        default:
            // The codec delivers head, body parts, end, in order.
            context.close(promise: nil)
        }
    }

    /// The checks on a decoded head that NIO's decoder does not make.
    private func check(_ head: HTTPRequestHead) -> GatewayResponse? {
        guard head.version.major == 1 else { return GatewayHTTPError.versionNotSupported }
        guard head.uri.utf8.count <= limits.maximumURIBytes else { return GatewayHTTPError.uriTooLong(limits) }
        var headerBytes = 0
        for (name, value) in head.headers { headerBytes += name.utf8.count + value.utf8.count }
        guard headerBytes <= limits.maximumHeaderBytes else { return GatewayHTTPError.headersTooLarge(limits) }
        return nil
    }

    /// Malformed HTTP is answered in its turn (after the requests read
    /// before it) and closes the connection; any other error closes it at
    /// once. The decoder reads nothing after an error.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .draining = state {
            // After an error the decoder hands on what it reads as errors.
            if case .dataReceivedInErrorState(_, let bytes) = error as? ByteToMessageDecoderError {
                drop(bytes.readableBytes, context: context)
            }
            return
        }
        guard let error = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if overPipelineLimit { return }
        if mustQueue {
            queued.append(.malformed(error))
        } else {
            handle(.malformed(error), context: context)
        }
        updatePhase()
    }

    /// The answer to bytes NIO's decoder refused.
    static func response(for error: HTTPParserError) -> GatewayResponse {
        switch error {
        case .headerOverflow: GatewayHTTPError.headTooLarge
        // llhttp stops at the HTTP/2 connection preface (`PRI * HTTP/2.0`).
        case .paused: GatewayHTTPError.versionNotSupported
        default: GatewayHTTPError.malformed(error)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Finish the answer in progress, then close.
            if case .responding = state { quiescing = true } else { context.close(promise: nil) }
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // Answer every request that came complete, then close.
            inputClosed = true
            switch state {
            case .responding: return
            case .idle where !queued.isEmpty: return  // waiting for the client to read
            default: closeAfterLastWrite(context: context)
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if queued.isEmpty && !awaitingWritability {
            context.read()
        } else {
            readDeferred = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if awaitingWritability, context.channel.isWritable {
            awaitingWritability = false
            handleQueued(context: context)
            updatePhase()
        }
        context.fireChannelWritabilityChanged()
    }

    private func refuseBody(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let response = GatewayError.bodyTooLarge(limit: limits.maximumBodyBytes).response(route: nil)
        refuse(response, version: head.version, context: context)
    }

    /// Answers with `response` (with `Connection: close`), then shuts the
    /// sending side: the client reads the answer and then the end. What it
    /// still sends is read and dropped (up to a bound, within the body
    /// timeout) until it closes: closing with unread bytes would reset the
    /// connection, and a client still writing would lose the answer.
    private func refuse(_ response: GatewayResponse, version: HTTPVersion = .http1_1, context: ChannelHandlerContext) {
        switch state {
        case .closing, .draining: return
        default: break
        }
        queued.removeAll()
        queuedRequests = 0
        // Draining before the write: its completion may close the channel at
        // once, and what the decoder says then belongs to the drain.
        state = .draining(dropped: 0)
        let written = write(response, keepAlive: false, closeAfter: false, version: version, context: context)
        let channel = context.channel
        written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
    }

    /// Counts bytes dropped after a refusal; closes past the bound.
    private func drop(_ count: Int, context: ChannelHandlerContext) {
        guard case .draining(let dropped) = state else { return }
        if dropped + count > GatewayHTTPLimits.maximumDrainBytes {
            close(context: context, reason: .drainLimit)
        } else {
            state = .draining(dropped: dropped + count)
        }
    }

    private func respond(to head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        // HEAD is answered as GET is, without the body (HTTPResponseEncoding).
        let method = head.method == .HEAD ? HTTPMethod.GET : head.method
        let request = GatewayRequest(method: method, uri: head.uri, headers: head.headers, body: body)
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let responder = self.responder
        let answer: @Sendable (GatewayResponse) -> Void = { response in
            if loop.inEventLoop {
                bound.value.handler.finish(response, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.finish(response, context: bound.value.context) }
            }
        }
        // Most requests (a cached API key, one backend call) are served
        // from this event loop with no task: the call's reply comes back on
        // it.
        if responder.respondWithoutTask(to: request, completion: answer) { return }
        // The others run on this thread until their first suspension.
        Task.immediate { answer(await responder.respond(to: request)) }
    }

    /// Writes the answer, then handles the parts queued meanwhile, unless
    /// the client has not read the answers before it.
    private func finish(_ response: GatewayResponse, context: ChannelHandlerContext) {
        guard case .responding(let keepAlive, let version, let isHead) = state else { return }
        state = .idle
        let open = keepAlive && !quiescing
        write(response, keepAlive: open, isHead: isHead, version: version, context: context)
        if !open {
            state = .closing
        } else if !context.channel.isWritable {
            awaitingWritability = true
        } else {
            handleQueued(context: context)
        }
        updatePhase()
    }

    /// Handles queued parts until a request is being answered again. A
    /// request answered without suspending calls ``finish`` from inside this
    /// loop; that call leaves the queue to the loop already running, so many
    /// pipelined requests are a loop, not a recursion.
    private func handleQueued(context: ChannelHandlerContext) {
        guard !handlingQueued else { return }
        handlingQueued = true
        defer { handlingQueued = false }
        while !isResponding, !awaitingWritability, let input = queued.popFirst() {
            if case .part(.head) = input { queuedRequests -= 1 }
            handle(input, context: context)
        }
        guard !isResponding, !awaitingWritability, queued.isEmpty else { return }
        if inputClosed, case .idle = state {
            closeAfterLastWrite(context: context)
        } else if readDeferred {
            readDeferred = false
            context.read()
        }
    }

    private var isResponding: Bool {
        if case .responding = state { return true }
        return false
    }

    // MARK: Timeouts

    /// Notes when the connection's phase changes; called after every event
    /// that can change it.
    private func updatePhase() {
        let current: Phase
        if awaitingWritability {
            current = .send
        } else {
            switch state {
            case .idle: current = !queued.isEmpty ? .answering : requestStarted ? .head : .idle
            case .receiving: current = .body
            case .responding: current = .answering
            case .draining: current = .drain
            case .closing: current = .send
            }
        }
        guard current != phase else { return }
        phase = current
        phaseStarted = sweeper.now
    }

    private func limit(of phase: Phase) -> TimeAmount? {
        switch phase {
        case .idle: limits.idleTimeout
        case .head: limits.headerTimeout
        case .body, .drain: limits.bodyTimeout
        case .send: limits.sendTimeout
        case .answering: nil
        }
    }

    /// Acts when the current phase has gone on past its limit (see
    /// ``ConnectionSweeper``): a request that is late arriving gets 408, a
    /// connection idle, draining or not reading is closed.
    func checkTimeout(now: NIODeadline) {
        guard let context, let limit = limit(of: phase), now >= phaseStarted + limit + sweeper.interval else { return }
        switch phase {
        case .idle:
            close(context: context, reason: .idleTimeout)
        case .head:
            GatewayHTTPMetrics.closed(.headerTimeout)
            refuse(GatewayHTTPError.timeout("head", limit: limit), context: context)
        case .body:
            GatewayHTTPMetrics.closed(.bodyTimeout)
            var version = HTTPVersion.http1_1
            if case .receiving(let head, _) = state { version = head.version }
            refuse(GatewayHTTPError.timeout("body", limit: limit), version: version, context: context)
        case .drain:
            close(context: context, reason: .bodyTimeout)
        case .send:
            close(context: context, reason: .sendTimeout)
        case .answering:
            break
        }
        updatePhase()
    }

    private func close(context: ChannelHandlerContext, reason: GatewayHTTPMetrics.CloseReason) {
        GatewayHTTPMetrics.closed(reason)
        state = .closing
        context.close(promise: nil)
    }

    // MARK: Writing

    private func closeAfterLastWrite(context: ChannelHandlerContext) {
        let channel = context.channel
        if let lastWrite {
            lastWrite.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    /// Writes an answer; one that does not keep the connection alive closes
    /// it once it is out, unless `closeAfter` is false.
    @discardableResult
    private func write(
        _ response: GatewayResponse,
        keepAlive: Bool,
        closeAfter: Bool = true,
        isHead: Bool = false,
        version: HTTPVersion,
        context: ChannelHandlerContext
    ) -> EventLoopFuture<Void> {
        let bytes = HTTPResponseEncoding.encode(
            response,
            version: version,
            keepAlive: keepAlive,
            includeBody: !isHead,
            date: HTTPDate.now(),
            allocator: context.channel.allocator
        )
        let written = context.writeAndFlush(wrapOutboundOut(bytes))
        lastWrite = written
        if !keepAlive && closeAfter {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
        return written
    }
}

/// Tells the connection's ``GatewayHTTPHandler`` that bytes arrived, before
/// NIO's decoder has made a request part of them: the head timeout runs from
/// a request's first byte.
final class RequestStartObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let handler: GatewayHTTPHandler

    init(_ handler: GatewayHTTPHandler) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handler.bytesArrived()
        context.fireChannelRead(data)
    }
}
