import Logging
import NIOCore
import NIOHTTP1

/// Serves one HTTP/1.1 connection: collects each request (head and body, up
/// to the size limit), hands it to the responder and writes the answer.
///
/// It sits behind NIO's server pipeline (`configureHTTPServerPipeline` with
/// pipelining assistance), which feeds it one request at a time and answers
/// malformed HTTP with 400. The request runs in a task of its own only for the
/// responder's async work (the backend calls); reading, writing and the
/// connection's state stay on its event loop, with no per-connection task and
/// no async stream in between. Profiling showed that per-request machinery
/// cost more than the gateway's own work (docs/benchmarks.md).
final class GatewayHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The body went over the limit: 413 was sent, the rest is dropped and
        /// the connection closes.
        case discarding
        case responding
    }

    private let responder: GatewayResponder
    private let maximumBodyBytes: Int
    private var state = State.idle

    init(responder: GatewayResponder, maximumBodyBytes: Int) {
        self.responder = responder
        self.maximumBodyBytes = maximumBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maximumBodyBytes {
                refuseBody(head, context: context)
            } else {
                state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
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
            state = .responding
            respond(to: head, body: body, context: context)
        case (_, .discarding):
            break
        default:
            // The pipeline handler delivers one whole request at a time.
            context.close(promise: nil)
        }
    }

    /// Malformed HTTP (already answered 400 by NIO's protocol error handler)
    /// or a failed connection: either way the connection is done.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuseBody(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        var response = GatewayError.bodyTooLarge(limit: maximumBodyBytes).response(route: nil)
        response.headers.replaceOrAdd(name: "connection", value: "close")
        write(response, keepAlive: false, version: head.version, context: context)
    }

    private func respond(to head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let request = GatewayRequest(method: head.method, uri: head.uri, headers: head.headers, body: body)
        let keepAlive = head.isKeepAlive
        let version = head.version
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let responder = self.responder
        Task {
            let response = await responder.respond(to: request)
            if loop.inEventLoop {
                bound.value.handler.finish(
                    response,
                    keepAlive: keepAlive,
                    version: version,
                    context: bound.value.context
                )
            } else {
                loop.execute {
                    bound.value.handler.finish(
                        response,
                        keepAlive: keepAlive,
                        version: version,
                        context: bound.value.context
                    )
                }
            }
        }
    }

    private func finish(
        _ response: GatewayResponse,
        keepAlive: Bool,
        version: HTTPVersion,
        context: ChannelHandlerContext
    ) {
        guard case .responding = state else { return }
        state = .idle
        write(response, keepAlive: keepAlive, version: version, context: context)
    }

    private func write(
        _ response: GatewayResponse,
        keepAlive: Bool,
        version: HTTPVersion,
        context: ChannelHandlerContext
    ) {
        var headers = response.headers
        headers.add(name: "content-length", value: String(response.body.readableBytes))
        headers.add(name: "server", value: "harepost")
        headers.add(name: "date", value: HTTPDate.now())
        if !keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if version.major == 1 && version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))),
            promise: nil
        )
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
