import HarepostDispatcher
import HarepostRetryPolicy
import HarepostTestSupport
import Testing

@Suite("Retry policy (clock-free)")
struct RetryPolicyTests {
    let exponential = RetryPolicy(
        maxAttempts: 5,
        backoff: .exponential,
        baseDelayMilliseconds: 1000,
        maxDelayMilliseconds: 10_000,
        jitter: .none,
        respectRetryAfter: true
    )

    @Test func outcomesFollowTheDocumentedRules() {
        for status in [200, 201, 204, 299] {
            #expect(
                exponential.decide(
                    after: 1,
                    result: .response(status: status, retryAfterMilliseconds: nil),
                    random: 0.5
                ).newStatus == .delivered
            )
        }
        for status in [500, 502, 503, 599, 408, 429] {
            let decision = exponential.decide(
                after: 1,
                result: .response(status: status, retryAfterMilliseconds: nil),
                random: 0.5
            )
            #expect(decision.outcome == .failed && decision.newStatus == .retrying, "\(status)")
        }
        for status in [400, 401, 404, 410, 422, 301, 100] {
            #expect(
                exponential.decide(
                    after: 1,
                    result: .response(status: status, retryAfterMilliseconds: nil),
                    random: 0.5
                ) == .init(outcome: .rejected, newStatus: .rejected, delayMilliseconds: nil),
                "\(status)"
            )
        }
        #expect(exponential.decide(after: 1, result: .timeout, random: 0).outcome == .timeout)
        #expect(exponential.decide(after: 1, result: .connectionError, random: 0).newStatus == .retrying)
        #expect(exponential.decide(after: 1, result: .blocked, random: 0).newStatus == .deadLetter)
        // Exhausted: the last allowed attempt failing dead-letters.
        #expect(
            exponential.decide(after: 5, result: .timeout, random: 0)
                == .init(outcome: .timeout, newStatus: .deadLetter, delayMilliseconds: nil)
        )
    }

    @Test func exponentialDoublesUpToTheCapAndFixedStays() {
        #expect(
            (1...6).map { exponential.nextDelay(after: $0, random: 0.5) } == [1000, 2000, 4000, 8000, 10_000, 10_000]
        )
        #expect(exponential.nextDelay(after: 200, random: 0.5) == 10_000)  // no overflow
        var fixed = exponential
        fixed.backoff = .fixed
        #expect((1...4).map { fixed.nextDelay(after: $0, random: 0.5) } == [1000, 1000, 1000, 1000])
    }

    @Test func fullJitterIsUniformBelowTheCeiling() {
        var jittered = exponential
        jittered.jitter = .full
        #expect(jittered.nextDelay(after: 3, random: 0) == 0)
        #expect(jittered.nextDelay(after: 3, random: 0.25) == 1000)
        #expect(jittered.nextDelay(after: 3, random: 0.999_999) == 3999)
    }

    @Test func retryAfterReplacesTheComputedDelayOnlyWhenAsked() {
        let throttled = RetryPolicy.Result.response(status: 429, retryAfterMilliseconds: 1000)
        #expect(exponential.decide(after: 3, result: throttled, random: 0.5).delayMilliseconds == 1000)
        var ignoring = exponential
        ignoring.respectRetryAfter = false
        #expect(ignoring.decide(after: 3, result: throttled, random: 0.5).delayMilliseconds == 4000)
    }

    @Test func retryAfterParsesSecondsAndHTTPDates() {
        let now: Int64 = 784_111_777_000  // Sun, 06 Nov 1994 08:49:37 GMT
        #expect(RetryAfter.milliseconds("1", nowMilliseconds: now) == 1000)
        #expect(RetryAfter.milliseconds(" 120 ", nowMilliseconds: now) == 120_000)
        #expect(RetryAfter.milliseconds("Sun, 06 Nov 1994 08:49:47 GMT", nowMilliseconds: now) == 10_000)
        #expect(RetryAfter.milliseconds("Sun, 06 Nov 1994 08:49:00 GMT", nowMilliseconds: now) == 0)  // past: now
        for bad in ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 PST", "99999999999999999999"] {
            #expect(RetryAfter.milliseconds(bad, nowMilliseconds: now) == nil, "\(bad)")
        }
    }
}

@Suite("Webhook signature")
struct WebhookSignatureTests {
    /// Verified by an independent implementation: Python's hmac module.
    @Test func verifiesWithPythonsHMAC() async throws {
        let body = Array(#"{"order":123,"note":"é"}"#.utf8)
        let secrets = ["whsec_current", "whsec_previous"]
        let header = WebhookSignature.header(body: body, timestamp: 1_781_101_330, secrets: secrets)
        #expect(header.hasPrefix("t=1781101330,v1="))
        let script = """
            import hmac, hashlib, sys
            header, body = sys.argv[1], sys.stdin.buffer.read()
            parts = dict(p.split("=", 1) for p in header.split(",") if p.startswith("t="))
            signatures = [p[3:] for p in header.split(",") if p.startswith("v1=")]
            for secret in sys.argv[2:]:
                expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
                if expected not in signatures: sys.exit("no signature for " + secret)
            print("ok")
            """
        let result = try await runTool(["python3", "-c", script, header] + secrets, input: body)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output == "ok\n")
        // A tampered body does not verify.
        let tampered = try await runTool(["python3", "-c", script, header, secrets[0]], input: body + [0x20])
        #expect(tampered.status != 0)
    }
}
