import Foundation
import HTTPTypes
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Logging
import ServiceLifecycle
import Testing

@testable import HarepostGateway

/// The gateway's HTTP/1.1 handling (GatewayHTTPServer), spoken in raw bytes.
@Suite("Gateway HTTP", .timeLimit(.minutes(2)))
struct GatewayHTTPTests {
    @Test func pipelinedRequestsAreAnsweredInOrderOnOneConnection() async throws {
        try await GatewayHarness.with { gateway in
            let auth = "Authorization: Bearer \(gateway.apiKey)\r\n"
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /v1/deliveries?limit=1 HTTP/1.1\r\nHost: x\r\n\(auth)X-Request-Id: second\r\n\r\n"
                    + "GET /v1/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            let statuses = exchange.received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["200", "200", "404"])
            #expect(exchange.received.lowercased().contains("x-request-id: second"))
            #expect(exchange.received.contains(#"{"error":"not found"}"#))
            // The last request asked to close: the server closes after answering.
            #expect(exchange.closedByServer)
        }
    }

    @Test func manyPipelinedRequestsAreAllAnsweredInOrder() async throws {
        try await GatewayHarness.with { gateway in
            let auth = "Authorization: Bearer \(gateway.apiKey)\r\n"
            let requests = (0..<50).map { index in
                index.isMultiple(of: 2)
                    ? "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    : "GET /v1/deliveries/hr_missing\(index) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
            }
            let exchange = try await RawHTTP.exchange(port: gateway.port, requests.joined(), halfClose: true)
            let statuses = exchange.received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == (0..<50).map { $0.isMultiple(of: 2) ? "200" : "404" })
            // The client closed its side: the server answers everything, then closes.
            #expect(exchange.closedByServer)
        }
    }

    @Test func thousandsOfPipelinedRequestsAnsweredWithoutWaitingAreALoopNotARecursion() async throws {
        try await GatewayHarness.with(configuration: .init(port: 0, http: .init(maximumPipelinedRequests: 10_000))) {
            gateway in
            // The first request waits for the store; the unknown paths behind
            // it queue up, and are answered without a backend call, so without
            // suspending: each answer hands the next queued request on.
            let count = 5000
            let first = "GET /v1/deliveries/hr_missing HTTP/1.1\r\nAuthorization: Bearer \(gateway.apiKey)\r\n\r\n"
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                first + String(repeating: "GET /x HTTP/1.1\r\n\r\n", count: count),
                halfClose: true
            )
            #expect(exchange.received.components(separatedBy: "HTTP/1.1 404 ").count - 1 == count + 1)
            #expect(exchange.closedByServer)
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
    }

    @Test func expect100ContinueGetsTheInterimAnswerBeforeTheFinalOne() async throws {
        try await GatewayHarness.with { gateway in
            let body = #"{"target": "https://example.com/hook", "body": {"n": 1}}"#
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                "POST /v1/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(gateway.apiKey)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                    + "Expect: 100-continue\r\nConnection: close\r\n\r\n\(body)"
            )
            #expect(exchange.received.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n"))
            // Over the limit, the final answer comes at once instead.
            let refused = try await RawHTTP.exchange(
                port: gateway.port,
                "POST /v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n"
            )
            #expect(refused.received.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
        }
    }

    @Test func http10WithoutKeepAliveIsAnsweredAndClosed() async throws {
        try await GatewayHarness.with { gateway in
            let exchange = try await RawHTTP.exchange(port: gateway.port, "GET /healthz HTTP/1.0\r\n\r\n")
            let head = exchange.received.lowercased()
            #expect(head.hasPrefix("http/1.0 200 ok\r\n"))
            #expect(head.contains("connection: close\r\n"))
            #expect(head.contains("content-length: 15\r\n"))
            #expect(head.contains("content-type: application/json\r\n"))
            #expect(head.contains("server: harepost\r\n"))
            #expect(head.contains("date: "))
            #expect(exchange.received.hasSuffix(#"{"status":"ok"}"#))
            #expect(exchange.closedByServer)
        }
    }

    @Test func malformedHTTPIsA400AndTheConnectionCloses() async throws {
        try await GatewayHarness.with { gateway in
            let exchange = try await RawHTTP.exchange(port: gateway.port, "NOT HTTP AT ALL\r\n\r\n")
            #expect(exchange.received.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            #expect(exchange.closedByServer)
            // The server is unharmed.
            #expect(try await gateway.request(.get, "/healthz").status == 200)
        }
    }

    /// Requests read before the malformed bytes are answered first, in order
    /// (one needs a backend call, so the error arrives while it is pending).
    @Test func malformedHTTPAfterPipelinedRequestsIsAnsweredInItsTurn() async throws {
        try await GatewayHarness.with { gateway in
            let auth = "Authorization: Bearer \(gateway.apiKey)\r\n"
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                "GET /v1/deliveries/hr_missing HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + "BAD\u{1}REQUEST\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            let statuses = exchange.received.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["404", "200", "400"])
            #expect(exchange.received.hasSuffix(#"{"error":"malformed request","detail":"invalid HTTP method"}"#))
            #expect(exchange.closedByServer)
        }
    }

    @Test func aBodyAnnouncedOverTheLimitIsRefusedBeforeItArrives() async throws {
        try await GatewayHarness.with(configuration: .init(port: 0, http: .init(maximumBodyBytes: 1024))) { gateway in
            // Only the head is sent: the 413 must not wait for the 1 MB body.
            let exchange = try await RawHTTP.exchange(
                port: gateway.port,
                "POST /v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
            )
            #expect(exchange.received.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
            #expect(exchange.received.contains(#"{"error":"request body too large","detail":"at most 1024 bytes"}"#))
            #expect(exchange.closedByServer)
        }
    }

    @Test func queryValuesArePercentDecoded() async throws {
        try await GatewayHarness.with { gateway in
            // `%64elivered` is `delivered`: accepted only once decoded.
            let decoded = try await gateway.request(.get, "/v1/deliveries?status=%64elivered&limit=1")
            #expect(decoded.status == 200)
            let invalid = try await gateway.request(.get, "/v1/deliveries?status=no%20such")
            #expect(invalid.status == 400)
            #expect(invalid.json["error"] == .string("invalid query parameter status"))
        }
    }

    @Test func gracefulShutdownFinishesTheRequestInProgressThenStopsListening() async throws {
        try await withTemporaryDirectory("hp-gw") { directory in
            let (received, receiving) = AsyncStream.makeStream(of: Void.self)
            let store = await GatewayBackendFailureTests.startStore(
                directory,
                router: try GatewayBackendFailureTests.slowListDeliveries(
                    after: .milliseconds(500),
                    received: receiving
                )
            )
            defer { store.cancel() }
            try await GatewayBackendFailureTests.withGateway(storeDirectory: directory) { _, key, backends in
                // A second gateway on the same backends, run by a ServiceGroup
                // this test shuts down.
                let server = GatewayApplication.make(
                    configuration: .init(port: 0),
                    routes: try RouteMap.load(path: GatewayHarness.routesPath, backends: ["auth", "store"]),
                    backends: backends,
                    logger: GatewayHarness.quietLogger
                )
                let group = ServiceGroup(
                    configuration: .init(services: [server], logger: GatewayHarness.quietLogger)
                )
                let running = Task { try await group.run() }
                let port = await server.waitUntilListening()
                // The quiet period only ends the read if the gateway never
                // answers or closes; it is long because a CI run of the full
                // suite on two cores once read nothing here within 5 s.
                let inProgress = Task {
                    try await RawHTTP.exchange(
                        port: port,
                        "GET /v1/deliveries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\n\r\n",
                        quietPeriod: .seconds(30)
                    )
                }
                // Shut down once the request is in progress: the gateway has
                // called the store, which answers 500 ms later.
                var calls = received.makeAsyncIterator()
                _ = await calls.next()
                await group.triggerGracefulShutdown()
                let exchange = try await inProgress.value
                #expect(exchange.received.hasPrefix("HTTP/1.1 200 OK\r\n"))
                #expect(exchange.closedByServer)
                try await running.value
                await #expect(throws: (any Error).self) {
                    try await RawHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\n\r\n")
                }
            }
        }
    }
}
