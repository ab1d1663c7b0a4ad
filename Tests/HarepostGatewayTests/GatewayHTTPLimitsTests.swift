import Foundation
import HTTPTypes
import HarepostTestSupport
import NIOCore
import Synchronization
import Testing

@testable import HarepostGateway

/// What one hostile client can make the gateway hold: answers it never
/// reads, connections, time, bytes; and the errors the HTTP layer writes.
@Suite("Gateway HTTP limits", .timeLimit(.minutes(2)))
struct GatewayHTTPLimitsTests {
    /// Short timeouts for the tests that wait for one; the rest stay long.
    static func limits(
        idle: TimeAmount = .seconds(60),
        header: TimeAmount = .seconds(60),
        body: TimeAmount = .seconds(60),
        send: TimeAmount = .seconds(60),
        connections: Int = 4096,
        pipelined: Int = 128
    ) -> GatewayApplication.Configuration {
        .init(
            port: 0,
            http: .init(
                maximumConnections: connections,
                maximumPipelinedRequests: pipelined,
                idleTimeout: idle,
                headerTimeout: header,
                bodyTimeout: body,
                sendTimeout: send
            )
        )
    }

    /// About 128 KiB of samples, for answers that fill socket buffers fast.
    static let largeMetrics = (0..<4000).map { "test_padding_sample{n=\"\($0)\"} 1\n" }.joined()

    /// A client pipelines requests for a 128 KiB answer and reads nothing:
    /// the gateway answers only while the client's side takes the bytes, so
    /// what it holds for the client stays bounded, and every answer still
    /// arrives once the client reads.
    @Test func answersWaitForAClientThatDoesNotRead() async throws {
        let scrapes = Atomic<Int>(0)
        let big = Self.largeMetrics
        let metrics: @Sendable () -> String = {
            scrapes.add(1, ordering: .relaxed)
            return big
        }
        try await GatewayHarness.with(configuration: Self.limits(), metrics: metrics) { gateway in
            let requests = 120
            let connection = try RawHTTP.Connection(port: gateway.port, receiveBufferBytes: 4096)
            try await connection.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: requests))
            let answered = try await Self.whenStill { scrapes.load(ordering: .relaxed) }
            // The kernel's socket buffers hold a few MiB on loopback; the
            // gateway's own queue one high water mark (256 KiB) more.
            #expect(answered < requests / 2, "answered \(answered) of \(requests) for a client that reads nothing")
            try await connection.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            let exchange = try await connection.receive()
            #expect(exchange.received.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == requests + 1)
            #expect(scrapes.load(ordering: .relaxed) == requests)
        }
    }

    @Test func answersThatWaitTooLongForTheClientCloseTheConnection() async throws {
        try await GatewayHarness.with(
            configuration: Self.limits(send: .milliseconds(300)),
            metrics: { Self.largeMetrics }
        ) { gateway in
            let connection = try RawHTTP.Connection(port: gateway.port, receiveBufferBytes: 4096)
            try await connection.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", count: 100))
            // Reads nothing; the gateway closes its end once answers have
            // waited the send timeout (seen in the kernel's table, unread).
            var open = true
            for _ in 0..<600 where open {
                try await Task.sleep(for: .milliseconds(50))
                open = try connection.serverEndIsOpen(serverPort: gateway.port)
            }
            #expect(!open)
            // What the kernel held arrives, then the end.
            let exchange = try await connection.receive()
            #expect(exchange.closedByServer)
            let delivered = exchange.received.components(separatedBy: "HTTP/1.1 200 OK").count - 1
            #expect(delivered >= 1 && delivered < 100)
        }
    }

    /// The count once it has not moved for `period` (polled every 100 ms).
    static func whenStill(for period: Duration = .seconds(1), _ count: () -> Int) async throws -> Int {
        var last = -1
        var stillSince = ContinuousClock.now
        while true {
            try await Task.sleep(for: .milliseconds(100))
            let now = count()
            if now != last {
                last = now
                stillSince = .now
            } else if ContinuousClock.now - stillSince >= period {
                return last
            }
        }
    }

    @Test func requestsPipelinedOverTheLimitAreRefused() async throws {
        try await GatewayHarness.with(configuration: Self.limits(pipelined: 10)) { gateway in
            // The first waits for the store; the next ten queue; the one
            // after them is refused, and nothing after that is read.
            let first = "GET /v1/deliveries/hr_missing HTTP/1.1\r\nAuthorization: Bearer \(gateway.apiKey)\r\n\r\n"
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                first + String(repeating: "GET /x HTTP/1.1\r\n\r\n", count: 30)
            )
            let statuses = exchange.received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == Array(repeating: "404", count: 11) + ["429"])
            #expect(
                exchange.received.hasSuffix(
                    #""detail":"at most 10 requests may wait for their answers on one connection"}"#
                )
            )
            #expect(exchange.closedByServer)
        }
    }

    @Test func anIdleConnectionIsClosed() async throws {
        try await GatewayHarness.with(configuration: Self.limits(idle: .seconds(1))) { gateway in
            let silent = try await RawHTTP.exchange(port: gateway.port, "")
            #expect(silent.received.isEmpty)
            #expect(silent.closedByServer)
            // After an answer, the same holds for the wait for the next request.
            let kept = try await RawHTTP.exchange(port: gateway.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(kept.received.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(kept.closedByServer)
        }
    }

    @Test func connectionsOverTheCapGet503AndClose() async throws {
        try await GatewayHarness.with(configuration: Self.limits(connections: 3)) { gateway in
            // Four tries against a cap of three: at least one is refused (the
            // harness's own client may hold a connection too, or may not).
            var held: [RawHTTP.Connection] = []
            var refused: RawHTTP.Exchange?
            for _ in 0..<4 where refused == nil {
                let connection = try RawHTTP.Connection(port: gateway.port)
                try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                // A held connection stays open after its answer; a refused one closes.
                let answer = try await connection.receive(until: #"{"status":"ok"}"#)
                if answer.received.hasPrefix("HTTP/1.1 503") { refused = answer } else { held.append(connection) }
            }
            let answer = try #require(refused)
            #expect(held.count <= 3)
            #expect(answer.received.lowercased().contains("retry-after: 1\r\n"))
            #expect(answer.received.contains(#"{"error":"too many connections","#))
            #expect(answer.closedByServer)
            // One closed makes room again.
            held.removeAll()
            var accepted = false
            for _ in 0..<50 where !accepted {
                let exchange = try await RawHTTP.exchange(port: gateway.port, "GET /healthz HTTP/1.0\r\n\r\n")
                accepted = exchange.received.hasPrefix("HTTP/1.0 200 OK")
                if !accepted { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(accepted)
        }
    }

    /// Protocol errors carry the `{error, detail}` body like every other.
    @Test func protocolErrorsHaveTheirStatusAndAJSONBody() async throws {
        try await GatewayHarness.with { gateway in
            let cases: [(request: String, status: String, error: String)] = [
                (
                    "GET /healthz HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n",
                    "431 Request Header Fields Too Large", "request header fields too large"
                ),
                (
                    "GET /healthz HTTP/1.1\r\nX-Huge: \(String(repeating: "a", count: 100_000))\r\n\r\n",
                    "431 Request Header Fields Too Large", "request header fields too large"
                ),
                (
                    "GET /v1/deliveries?\(String(repeating: "a", count: 20_000)) HTTP/1.1\r\n\r\n",
                    "414 URI Too Long", "uri too long"
                ),
                ("GET /healthz HTTP/1.1\nHost: x\n\n", "400 Bad Request", "malformed request"),
                ("GET /healthz HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", "400 Bad Request", "malformed request"),
                ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505 HTTP Version Not Supported", "http version not supported"),
                ("GET /healthz HTTP/2.0\r\n\r\n", "400 Bad Request", "malformed request"),
                ("NOT HTTP AT ALL\r\n\r\n", "400 Bad Request", "malformed request"),
            ]
            for (request, status, error) in cases {
                let exchange = try await RawHTTP.exchange(port: gateway.port, request)
                #expect(
                    exchange.received.hasPrefix("HTTP/1.1 \(status)\r\n"),
                    "\(request.prefix(40)): \(exchange.received.prefix(60))"
                )
                #expect(exchange.received.contains("content-type: application/json\r\n"))
                let body = exchange.received.components(separatedBy: "\r\n\r\n").last ?? ""
                #expect(body.hasPrefix(#"{"error":"\#(error)","detail":""#), "\(request.prefix(40)): \(body)")
                #expect(exchange.closedByServer)
            }
        }
    }

    /// A client that writes its whole (too large) body before reading gets
    /// the 413, not a reset.
    @Test func aClientWritingAnOversizedBodyBeforeReadingGetsThe413() async throws {
        try await GatewayHarness.with { gateway in
            let body = [UInt8](repeating: UInt8(ascii: "a"), count: 10 << 20)
            let connection = try RawHTTP.Connection(port: gateway.port)
            try await connection.send(
                "POST /v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
            )
            try await connection.send(body)
            let exchange = try await connection.receive()
            #expect(exchange.received.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
            #expect(
                exchange.received.hasSuffix(#"{"error":"request body too large","detail":"at most 1114112 bytes"}"#)
            )
            #expect(exchange.closedByServer)
        }
    }

    /// HEAD is answered as GET, with its headers and no body, so the next
    /// answer on the connection is intact; where GET is not allowed, 405.
    @Test func headIsAnsweredAsGetWithoutABody() async throws {
        try await GatewayHarness.with { gateway in
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "HEAD /v1/deliveries HTTP/1.1\r\nAuthorization: Bearer \(gateway.apiKey)\r\n\r\n"
                    + "HEAD /v1/send HTTP/1.1\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"
            )
            let answers = exchange.received.components(separatedBy: "HTTP/1.1 ").dropFirst()
            #expect(answers.map { $0.prefix(3) } == ["200", "200", "405", "200"])
            let heads = Array(answers.prefix(3))
            #expect(heads[0].contains("content-length: 15\r\n"))
            #expect(heads.allSatisfy { $0.hasSuffix("\r\n\r\n") })  // no body
            #expect(heads[1].contains("x-request-id: "))
            #expect(heads[2].lowercased().contains("allow: post\r\n"))
            #expect(exchange.received.hasSuffix(#"{"status":"ok"}"#))
            // A path that serves GET lists HEAD as allowed too.
            let wrong = try await gateway.request(.delete, "/v1/deliveries")
            #expect(wrong.status == 405)
            #expect(wrong.header("allow") == "GET, HEAD")
        }
    }
}
