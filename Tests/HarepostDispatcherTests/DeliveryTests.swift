import Foundation
import HarepostCurl
import HarepostProto
import HarepostTestSupport
import Testing

@testable import HarepostDispatcher

/// End to end through real parts: store and auth services on Unix sockets, the
/// dispatcher and libcurl, and a real HTTPS target answering as scripted.
@Suite("Delivery against a real HTTPS target")
struct DeliveryTests {
    static func tag() -> String { String(UUID().uuidString.prefix(8)) }

    /// A client that trusts the test CA and may reach loopback (the target).
    static func http(_ target: ScriptedTarget) -> CurlHTTPClient.Configuration {
        .init(caBundlePath: target.caPath, allowInternalAddresses: true)
    }

    @Test func a200IsDeliveredWithHeadersAndVerifiableSignatures() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target), standardWebhooks: true) { harness in
                let path = "/ok/\(Self.tag())"
                let queueID = try await harness.send(
                    """
                    {"target": "\(target.url(path))", "headers": {"X-Custom": "yes", "X-Harepost-Delivery-Id": "spoofed"},
                     "body": {"event": "order.paid", "amount": 42}, "idempotency_key": "key-\(Self.tag())", "sign": true}
                    """
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "delivered")
                #expect(delivery.attemptOutcomes == ["delivered"])
                #expect(delivery.values("attempts").first?.messageValue?.int64("http_status") == 200)

                let request = try #require(try target.requests(path).first)
                #expect(request.method == "POST")
                #expect(request.header("X-Custom") == "yes")
                #expect(request.header("X-Harepost-Delivery-Id") == queueID)
                #expect(request.header("X-Harepost-Attempt") == "1")
                #expect(request.header("X-Harepost-Idempotency-Key")?.hasPrefix("key-") == true)
                #expect(request.header("Content-Type") == "application/json")
                #expect(request.header("Expect") == nil)
                #expect(request.header("webhook-id") == queueID)
                #expect(String(decoding: request.body, as: UTF8.self) == #"{"event":"order.paid","amount":42}"#)

                // Both signatures verify with Python's own hmac.
                let script = """
                    import base64, hashlib, hmac, sys
                    secret, header, webhook_id, webhook_ts, webhook_sig = sys.argv[1:6]
                    body = sys.stdin.buffer.read()
                    parts = dict(p.split("=", 1) for p in header.split(","))
                    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
                    assert parts["v1"] == expected, "X-Harepost-Signature"
                    assert webhook_ts == parts["t"]
                    key = base64.b64decode(secret[len("whsec_"):])
                    signed = webhook_id.encode() + b"." + webhook_ts.encode() + b"." + body
                    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
                    assert "v1," + standard in webhook_sig.split(" "), "webhook-signature"
                    print("ok")
                    """
                let verified = try await runTool(
                    [
                        "python3", "-c", script, harness.signingSecret, request.header("X-Harepost-Signature") ?? "",
                        request.header("webhook-id") ?? "", request.header("webhook-timestamp") ?? "",
                        request.header("webhook-signature") ?? "",
                    ],
                    input: request.body
                )
                #expect(verified.output == "ok\n", "\(verified.errors)")

                // The attempt record keeps what was sent and what came back.
                let record = try #require(try await harness.attemptRecords(queueID).first)
                #expect(record.enumName("status") == "delivered")
                #expect(record.int64("response_status") == 200)
                #expect(record.string("request_url") == target.url(path))
                #expect(record.int64("request_body_size") == Int64(request.body.count))
                #expect(record.string("request_headers")?.contains("X-Harepost-Signature") == true)
                #expect(record.string("response_headers")?.contains("application/json") == true)
                #expect(record.string("response_body") == #"{"status": 200, "count": 1}"#)
            }
        }
    }

    @Test func a500ThenA200IsRetriedAndDelivered() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target)) { harness in
                let path = "/flaky/1/\(Self.tag())"
                let queueID = try await harness.send(
                    """
                    {"target": "\(target.url(path))", "body": "hello",
                     "delivery": {"base_delay_ms": 100, "jitter": "none"}}
                    """
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "delivered")
                #expect(delivery.attemptOutcomes == ["failed", "delivered"])
                let requests = try target.requests(path)
                #expect(requests.map { $0.header("X-Harepost-Attempt") } == ["1", "2"])
                #expect(requests.allSatisfy { $0.header("X-Harepost-Delivery-Id") == queueID })
                #expect(requests.allSatisfy { $0.header("Content-Type") == nil && $0.body == Array("hello".utf8) })
            }
        }
    }

    @Test func a410IsRejectedWithoutRetrying() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target)) { harness in
                let path = "/status/410/\(Self.tag())"
                let queueID = try await harness.send(
                    #"{"target": "\#(target.url(path))", "delivery": {"base_delay_ms": 100, "jitter": "none"}}"#
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "rejected")
                #expect(delivery.attemptOutcomes == ["rejected"])
                #expect(delivery.int64("last_status") == 410)
                // Terminal when recorded, which is after the target answered:
                // no attempt can follow, so one request is all there is.
                #expect(try target.requests(path).count == 1)
            }
        }
    }

    @Test func a429RetryAfterIsHonoured() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target)) { harness in
                let path = "/busy/\(Self.tag())"
                let queueID = try await harness.send(
                    """
                    {"target": "\(target.url(path))", "method": "PUT", "body": {"a": 1},
                     "delivery": {"base_delay_ms": 100, "jitter": "none", "respect_retry_after": true}}
                    """
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "delivered")
                #expect(delivery.attemptOutcomes == ["failed", "delivered"])
                let requests = try target.requests(path)
                #expect(requests.map(\.method) == ["PUT", "PUT"])
                // Retry-After: 1 replaced the 100 ms computed delay.
                #expect(requests.count == 2 && requests[1].at - requests[0].at >= 0.9)
            }
        }
    }

    @Test func aSlowTargetTimesOut() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target)) { harness in
                let queueID = try await harness.send(
                    """
                    {"target": "\(target.url("/slow/\(Self.tag())"))",
                     "delivery": {"timeout_ms": 1000, "max_attempts": 1}}
                    """
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "dead_letter")
                #expect(delivery.attemptOutcomes == ["timeout"])
                let attempt = try #require(delivery.values("attempts").first?.messageValue)
                #expect(attempt.has("http_status") == false)
                #expect(attempt.string("error")?.lowercased().contains("timed out") == true)
            }
        }
    }

    @Test func aRefusedConnectionIsAConnectionError() async throws {
        try await ScriptedTarget.withTarget { target in
            try await DeliveryHarness.with(http: Self.http(target)) { harness in
                let port = try closedPort()
                let queueID = try await harness.send(
                    #"{"target": "https://localhost:\#(port)/hook", "delivery": {"max_attempts": 1}}"#
                )
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "dead_letter")
                #expect(delivery.attemptOutcomes == ["connection_error"])
                #expect(delivery.values("attempts").first?.messageValue?.string("error")?.isEmpty == false)
            }
        }
    }

    @Test func aNameThatResolvesToLoopbackIsBlockedAtConnectTime() async throws {
        try await ScriptedTarget.withTarget { target in
            // rebind.test "resolves" to 127.0.0.1 only when curl connects: the
            // send-time check (skipped by this store) never saw that address.
            let rebinding = "rebind.test:\(target.port):127.0.0.1"
            let path = "/ok/\(Self.tag())"
            try await DeliveryHarness.with(
                http: .init(caBundlePath: target.caPath, allowInternalAddresses: false, resolve: [rebinding])
            ) { harness in
                let queueID = try await harness.send(#"{"target": "\#(target.url(path, host: "rebind.test"))"}"#)
                let delivery = try await harness.waitForTerminal(queueID)
                #expect(delivery.enumName("status") == "dead_letter")
                #expect(delivery.attemptOutcomes == ["blocked"])
                #expect(
                    delivery.values("attempts").first?.messageValue?.string("error")?.contains("127.0.0.1") == true
                )
                #expect(try target.requests(path).isEmpty)
            }
            // The same target is reached when the operator allows internal addresses.
            try await DeliveryHarness.with(
                http: .init(caBundlePath: target.caPath, allowInternalAddresses: true, resolve: [rebinding])
            ) { harness in
                let queueID = try await harness.send(#"{"target": "\#(target.url(path, host: "rebind.test"))"}"#)
                #expect(try await harness.waitForTerminal(queueID).enumName("status") == "delivered")
            }
        }
    }
}

/// A local port nothing listens on (bound, then closed).
func closedPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    try #require(bound)
    return Int(UInt16(bigEndian: address.sin_port))
}
