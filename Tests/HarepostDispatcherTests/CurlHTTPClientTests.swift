import Foundation
import HarepostCurl
import HarepostTestSupport
import Testing

/// The libcurl client on its own, against the real HTTPS target.
@Suite("libcurl client")
struct CurlHTTPClientTests {
    static func withClient<T: Sendable>(
        _ configuration: CurlHTTPClient.Configuration,
        _ body: @Sendable (CurlHTTPClient) async throws -> T
    ) async throws -> T {
        let client = CurlHTTPClient(configuration: configuration, logger: DeliveryHarness.quietLogger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await client.run()
                return nil
            }
            let result = try await body(client)
            group.cancelAll()
            while let _ = try await group.next() {}
            return result
        }
    }

    static func request(_ url: String, method: String = "POST", body: String = "", timeout: Int64 = 5000)
        -> OutboundRequest
    {
        OutboundRequest(url: url, method: method, headers: [], body: Array(body.utf8), timeoutMilliseconds: timeout)
    }

    @Test func tlsPeersAreVerified() async throws {
        try await ScriptedTarget.withTarget { target in
            // Without the test CA the target's certificate is not trusted.
            try await Self.withClient(.init(allowInternalAddresses: true)) { client in
                let result = await client.execute(Self.request(target.url("/ok/untrusted")))
                #expect(result.outcome == .connectionError)
                #expect(result.error?.isEmpty == false)
            }
            #expect(try target.requests("/ok/untrusted").isEmpty)
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await ScriptedTarget.withTarget { target in
            try await Self.withClient(DeliveryTests.http(target)) { client in
                for _ in 0..<5 {
                    let result = await client.execute(Self.request(target.url("/ok/reuse"), body: "x"))
                    #expect(result.outcome == .response(status: 200))
                    #expect(result.connectedAddress == "127.0.0.1")
                }
            }
            let requests = try target.requests("/ok/reuse")
            #expect(requests.count == 5)
            #expect(Set(requests.map(\.peerPort)).count == 1)
        }
    }

    @Test func manyRequestsRunAtOnce() async throws {
        try await ScriptedTarget.withTarget { target in
            try await Self.withClient(DeliveryTests.http(target)) { client in
                // Eight requests the target holds for 3 s each: all of them reach
                // the target before the first answer comes back.
                await withTaskGroup(of: Void.self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            let result = await client.execute(Self.request(target.url("/slow/many-\(index)")))
                            #expect(result.outcome == .response(status: 200))
                        }
                    }
                }
            }
            let arrivals = try (0..<8).compactMap { try target.requests("/slow/many-\($0)").first?.at }
            #expect(arrivals.count == 8)
            #expect((arrivals.max() ?? 0) - (arrivals.min() ?? 0) < 3)
        }
    }

    @Test func methodsAndBodiesAreSentAsGiven() async throws {
        try await ScriptedTarget.withTarget { target in
            try await Self.withClient(DeliveryTests.http(target)) { client in
                for method in ["GET", "PUT", "PATCH", "DELETE", "POST"] {
                    let body = method == "GET" || method == "DELETE" ? "" : "{\"m\":\"\(method)\"}"
                    let result = await client.execute(
                        Self.request(target.url("/ok/method-\(method)"), method: method, body: body)
                    )
                    #expect(result.outcome == .response(status: 200), "\(method)")
                    let seen = try #require(try target.requests("/ok/method-\(method)").first)
                    #expect(seen.method == method)
                    #expect(seen.body == Array(body.utf8))
                    #expect(seen.header("Content-Type") == nil, "curl must not invent a content type")
                }
            }
        }
    }

    @Test func aCancelledRequestEndsAtOnce() async throws {
        try await ScriptedTarget.withTarget { target in
            try await Self.withClient(DeliveryTests.http(target)) { client in
                let request = Task { await client.execute(Self.request(target.url("/slow/cancelled"))) }
                // Cancelled once the target has it (it answers after 3 s).
                while try target.requests("/slow/cancelled").isEmpty { try await Task.sleep(for: .milliseconds(10)) }
                request.cancel()
                let result = await request.value
                #expect(result.outcome == .cancelled)
            }
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        try await ScriptedTarget.withTarget { target in
            try await Self.withClient(DeliveryTests.http(target)) { client in
                let result = await client.execute(Self.request(target.url("/status/302/redirect")))
                #expect(result.outcome == .response(status: 302))
            }
        }
    }
}
