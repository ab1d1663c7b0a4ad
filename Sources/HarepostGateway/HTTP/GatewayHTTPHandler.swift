import Logging
import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection: collects each request (head and body, up
/// to the size limit), hands it to the responder and writes the answer.
///
/// It sits behind NIO's HTTP request decoder and writes responses as bytes
/// itself (``HTTPResponseEncoding``); malformed HTTP gets a 400 and the
/// connection closes, after the answers to the requests before it. The
/// request runs in a task of its own only for the responder's async work
/// (the backend calls); reading, writing and the connection's state stay on
/// its event loop, with no per-connection task and no async stream in
/// between. Profiling showed that per-request machinery
/// cost more than the gateway's own work (docs/benchmarks.md).
///
/// Pipelining: requests are answered one at a time, in order. Parts of a
/// request that arrive while another is being answered wait in a queue, and
/// the connection stops reading until the queue is empty, so a pipelining
/// client cannot make it buffer without bound. (NIO's pipelining handler does
/// the same but stops reading while *any* answer is pending, which costs two
/// `epoll_ctl` calls per request for clients that do not pipeline.)
final class GatewayHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the decoder delivered, in order: a request part, or the point
    /// where the bytes stopped being HTTP.
    private enum Input {
        case part(HTTPServerRequestPart)
        case malformed
    }

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The body went over the limit: 413 was sent, the rest is dropped and
        /// the connection closes.
        case discarding
        case responding(keepAlive: Bool, version: HTTPVersion)
    }

    private let responder: GatewayResponder
    private let maximumBodyBytes: Int
    private var state = State.idle
    /// Input read while an answer is pending.
    private var queued = CircularBuffer<Input>()
    /// A read the channel asked for while parts were queued.
    private var readDeferred = false
    /// The server is draining: close once the current answer is written.
    private var quiescing = false
    /// The client closed its sending side: answer what it sent, then close.
    private var inputClosed = false
    /// The end of the last answer written, for closing after it is out.
    private var lastWrite: EventLoopFuture<Void>?
    /// Whether ``handleQueued(context:)`` is running.
    private var handlingQueued = false

    init(responder: GatewayResponder, maximumBodyBytes: Int) {
        self.responder = responder
        self.maximumBodyBytes = maximumBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if isResponding || !queued.isEmpty {
            queued.append(.part(part))
        } else {
            handle(.part(part), context: context)
        }
    }

    private func handle(_ input: Input, context: ChannelHandlerContext) {
        guard case .part(let part) = input else {
            refuseMalformed(context: context)
            return
        }
        switch (part, state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maximumBodyBytes {
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
            guard body.readableBytes + part.readableBytes <= maximumBodyBytes else {
                refuseBody(head, context: context)
                return
            }
            state = .idle  // drop the reference so `body` is uniquely owned while it grows
            body.writeBuffer(&part)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding(keepAlive: head.isKeepAlive, version: head.version)
            respond(to: head, body: body, context: context)
        case (_, .discarding):
            break
        default:
            // The codec delivers head, body parts, end, in order.
            context.close(promise: nil)
        }
    }

    /// Malformed HTTP is answered 400 in its turn (after the requests read
    /// before it) and closes the connection; any other error closes it at
    /// once. The decoder reads nothing after an error.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if isResponding || !queued.isEmpty {
            queued.append(.malformed)
        } else {
            handle(.malformed, context: context)
        }
    }

    private func refuseMalformed(context: ChannelHandlerContext) {
        if case .discarding = state { return }  // already refused and closing
        state = .discarding
        queued.removeAll()
        write(GatewayResponse(status: .badRequest), keepAlive: false, version: .http1_1, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Finish the answer in progress, then close.
            if case .responding = state { quiescing = true } else { context.close(promise: nil) }
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            // Answer every request that came complete, then close.
            inputClosed = true
            if case .responding = state { return }
            closeAfterLastWrite(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if queued.isEmpty {
            context.read()
        } else {
            readDeferred = true
        }
    }

    private func refuseBody(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        queued.removeAll()
        let response = GatewayError.bodyTooLarge(limit: maximumBodyBytes).response(route: nil)
        write(response, keepAlive: false, version: head.version, context: context)  // says Connection: close
    }

    private func respond(to head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let request = GatewayRequest(method: head.method, uri: head.uri, headers: head.headers, body: body)
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
        // it (docs/benchmarks.md, step 36).
        if responder.respondWithoutTask(to: request, completion: answer) { return }
        // The others run on this thread until their first suspension.
        Task.immediate { answer(await responder.respond(to: request)) }
    }

    /// Writes the answer, then handles the parts queued meanwhile.
    private func finish(_ response: GatewayResponse, context: ChannelHandlerContext) {
        guard case .responding(let keepAlive, let version) = state else { return }
        state = .idle
        let open = keepAlive && !quiescing
        write(response, keepAlive: open, version: version, context: context)
        if open { handleQueued(context: context) }
    }

    /// Handles queued parts until a request is being answered again. A
    /// request answered without suspending calls ``finish`` from inside this
    /// loop; that call leaves the queue to the loop already running, so many
    /// pipelined requests are a loop, not a recursion.
    private func handleQueued(context: ChannelHandlerContext) {
        guard !handlingQueued else { return }
        handlingQueued = true
        defer { handlingQueued = false }
        while !isResponding, let input = queued.popFirst() {
            handle(input, context: context)
        }
        guard !isResponding else { return }
        if inputClosed {
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

    private func closeAfterLastWrite(context: ChannelHandlerContext) {
        let channel = context.channel
        if let lastWrite {
            lastWrite.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    private func write(
        _ response: GatewayResponse,
        keepAlive: Bool,
        version: HTTPVersion,
        context: ChannelHandlerContext
    ) {
        let bytes = HTTPResponseEncoding.encode(
            response,
            version: version,
            keepAlive: keepAlive,
            date: HTTPDate.now(),
            allocator: context.channel.allocator
        )
        let written = context.writeAndFlush(wrapOutboundOut(bytes))
        lastWrite = written
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
