import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import HarepostGateway

/// The HTTP handler on NIO's `EmbeddedChannel`: bytes in, bytes out, and
/// time that moves only when the test advances the embedded loop, so the
/// timeouts are checked to the sweep without waiting for them.
@Suite("Gateway HTTP handler, embedded")
struct GatewayHTTPHandlerTests {
    /// Answers every request at once with `body` (and counts them).
    final class FixedResponder: GatewayResponding, @unchecked Sendable {
        let body: String
        private(set) var answered = 0

        init(body: String = #"{"ok":true}"#) { self.body = body }

        func respond(to request: GatewayRequest) async -> GatewayResponse { answer(request) }

        func respondWithoutTask(
            to request: GatewayRequest,
            completion: @escaping @Sendable (GatewayResponse) -> Void
        ) -> Bool {
            completion(answer(request))
            return true
        }

        private func answer(_ request: GatewayRequest) -> GatewayResponse {
            answered += 1
            return GatewayResponse(
                status: .ok,
                headers: ["content-type": "application/json", "x-method": request.method.rawValue],
                body: ByteBuffer(string: body)
            )
        }
    }

    struct Connection {
        let channel: EmbeddedChannel
        let loop: EmbeddedEventLoop
        let responder: FixedResponder
        let limits: GatewayHTTPLimits

        init(limits: GatewayHTTPLimits = .init(), responder: FixedResponder = FixedResponder()) throws {
            loop = EmbeddedEventLoop()
            channel = EmbeddedChannel(loop: loop)
            self.responder = responder
            self.limits = limits
            let sweeper = ConnectionSweeper(eventLoop: loop, interval: limits.sweepInterval)
            loop.run()
            let handler = GatewayHTTPHandler(responder: responder, limits: limits, sweeper: sweeper)
            try channel.pipeline.syncOperations.addHandler(RequestStartObserver(handler))
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }

        /// Everything written to the client so far.
        func received() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
            return text
        }

        /// Moves the loop's clock; the sweep runs at its interval.
        func advance(by amount: TimeAmount) {
            loop.advanceTime(by: amount)
        }

        var isOpen: Bool { channel.isActive }
    }

    @Test func headIsAnsweredWithTheGetsHeadersAndNoBody() throws {
        let connection = try Connection()
        try connection.send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = try connection.received()
        let answers = text.components(separatedBy: "HTTP/1.1 200 OK\r\n").dropFirst()
        #expect(answers.count == 2)
        let head = try #require(answers.first)
        #expect(head.contains("x-method: GET\r\n"))  // served as GET
        #expect(head.contains("content-length: 11\r\n"))
        #expect(head.hasSuffix("\r\n\r\n"))  // and no body before the next answer
        #expect(text.hasSuffix(#"{"ok":true}"#))
    }

    @Test func anIdleConnectionClosesAfterItsTimeoutAndNotBefore() throws {
        let limits = GatewayHTTPLimits(idleTimeout: .seconds(60))
        let connection = try Connection(limits: limits)
        connection.advance(by: .seconds(59))
        #expect(connection.isOpen)
        // Fires between the limit and the limit plus two sweeps.
        connection.advance(by: .seconds(3))
        #expect(!connection.isOpen)
        #expect(try connection.received().isEmpty)
    }

    @Test func aHeadTrickledInIsAnswered408AtItsTimeout() throws {
        let limits = GatewayHTTPLimits(idleTimeout: .seconds(600), headerTimeout: .seconds(10))
        let connection = try Connection(limits: limits)
        for byte in "GET /x HTTP/1.1\r\nHo" {
            try connection.send(String(byte))
            connection.advance(by: .milliseconds(500))
        }
        #expect(try connection.received().isEmpty)  // 9.5 s after the first byte
        connection.advance(by: .seconds(3))
        let text = try connection.received()
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(text.hasSuffix(#"{"error":"request timeout","detail":"the request head did not arrive within 10 s"}"#))
    }

    @Test func aBodyTrickledInIsAnswered408AtItsTimeout() throws {
        let limits = GatewayHTTPLimits(idleTimeout: .seconds(600), bodyTimeout: .seconds(30))
        let connection = try Connection(limits: limits)
        try connection.send("POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"")
        connection.advance(by: .seconds(29))
        #expect(try connection.received().isEmpty)
        connection.advance(by: .seconds(3))
        let text = try connection.received()
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(text.hasSuffix(#""detail":"the request body did not arrive within 30 s"}"#))
        #expect(connection.responder.answered == 0)
    }

    @Test func answersWaitWhileTheClientIsNotReading() throws {
        let connection = try Connection()
        connection.channel.isWritable = false
        try connection.send("GET /a HTTP/1.1\r\n\r\n")
        // The first is answered (written into the buffer), then it stops.
        try connection.send("GET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n")
        #expect(connection.responder.answered == 1)
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(connection.responder.answered == 3)
        #expect(try connection.received().components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 3)
    }

    @Test func answersLeftUnreadCloseTheConnectionAtTheSendTimeout() throws {
        let limits = GatewayHTTPLimits(idleTimeout: .seconds(600), sendTimeout: .seconds(30))
        let connection = try Connection(limits: limits)
        connection.channel.isWritable = false
        try connection.send("GET /a HTTP/1.1\r\n\r\n")
        connection.advance(by: .seconds(29))
        #expect(connection.isOpen)
        connection.advance(by: .seconds(3))
        #expect(!connection.isOpen)
    }
}
