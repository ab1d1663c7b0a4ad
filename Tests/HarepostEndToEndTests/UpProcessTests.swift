import Crypto
import Foundation
import HarepostJSON
import HarepostTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `harepost up --dev` as a real child process, with its four components as
/// grandchildren, reached only over HTTP like a client would.
final class RunningUp: Sendable {
    let process: ChildProcessHandle
    let base: String
    let dataDirectory: String
    let runDirectory: String
    let apiKey: String
    let signingSecret: String

    static let routes = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../gateway-config/routes.json").standardized.path

    /// Starts `up --dev` in `directory` and waits until it has announced the
    /// dev account and the gateway is ready.
    init(directory: String, caBundle: String, extraArguments: [String] = []) async throws {
        let port = Int.random(in: 20000...60000)
        base = "http://127.0.0.1:\(port)"
        dataDirectory = "\(directory)/data"
        runDirectory = "\(directory)/run"
        process = try ChildProcessHandle.start(
            harepostBinary,
            [
                "up", "--dev", "--port", "\(port)", "--data-dir", dataDirectory, "--run-dir", runDirectory,
                "--routes", Self.routes, "--ca-bundle", caBundle, "--log-level", "error",
                // A killed dispatcher's leases come back after 1 s + 2 s, not 1 s + 30 s.
                "--lease-margin-seconds", "2",
            ] + extraArguments,
            keepOutput: true
        )
        // The dev account file is written once every component is healthy.
        let deadline = ContinuousClock.now + .seconds(30)
        var account: JSONValue?
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: "\(dataDirectory)/dev-account.json"),
                let parsed = try? JSONParser.parse(Array(data))
            {
                account = parsed
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard case .string(let key)? = account?["api_key"], case .string(let secret)? = account?["signing_secret"]
        else { throw UpNeverReady() }
        apiKey = key
        signingSecret = secret
        // A dev account saved by an earlier run is there at once: wait for this one to serve.
        while ContinuousClock.now < deadline {
            if (try? await api("GET", "/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw UpNeverReady()
    }

    struct UpNeverReady: Error {}

    /// One call to the public API: status, parsed body and `Retry-After`.
    func api(_ method: String, _ path: String, body: String? = nil) async throws -> (
        status: Int, json: JSONValue, retryAfter: String?
    ) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.timeoutInterval = 10
        request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (
            http.statusCode, (try? JSONParser.parse(Array(data))) ?? .null,
            http.value(forHTTPHeaderField: "Retry-After")
        )
    }

    /// The running pid of `component`, from up's pid file.
    func pid(of component: String) -> Int32? {
        (try? String(contentsOfFile: "\(runDirectory)/\(component).pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Polls GET /v1/deliveries/{id} until `done` holds for it.
    func waitForDelivery(
        _ queueID: String,
        timeout: Duration = .seconds(30),
        until done: (JSONValue) -> Bool
    ) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        var last = JSONValue.null
        while ContinuousClock.now < deadline {
            if let answer = try? await api("GET", "/v1/deliveries/\(queueID)"), answer.status == 200 {
                last = answer.json
                if done(last) { return last }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("delivery \(queueID) never reached the expected state; last seen \(JSONWriter.string(last))")
        return last
    }

    /// SIGTERM to `up`; its exit status.
    func stop() async -> Int32? {
        process.terminate()
        return await process.waitForExit(timeout: .seconds(30))
    }
}

extension JSONValue {
    var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

@Suite("harepost up", .timeLimit(.minutes(3)))
struct UpProcessTests {
    static func seed(_ name: String) throws -> JSONValue { try JSONParser.parse(try TestFixtures.json(name)) }

    @Test func aSendIsDeliveredAndVisibleThroughBothLookupAPIsInTheSeedShapes() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let up = try await RunningUp(directory: dir, caBundle: target.caPath)
                let sent = try await up.api(
                    "POST",
                    "/v1/send",
                    body:
                        #"{"target": "\#(target.url("/ok/up"))", "body": {"order": 7}, "sign": true, "idempotency_key": "ord-7"}"#
                )
                #expect(sent.status == 202)
                let queueID = try #require(sent.json["queue_id"]?.text)

                let delivery = try await up.waitForDelivery(queueID) { $0["status"]?.text == "delivered" }
                expectSameShape(delivery, as: try Self.seed("harepost-get-delivery"))
                #expect(delivery["idempotency_key"]?.text == "ord-7")
                #expect(delivery["last_status"] == .integer(200))

                let list = try await up.api("GET", "/v1/deliveries?limit=5")
                #expect(list.status == 200)
                expectSameShape(list.json, as: try Self.seed("harepost-list-deliveries"))
                guard case .array(let listed)? = list.json["data"] else { throw UpTestError("no data array") }
                #expect(listed.first?["queue_id"]?.text == queueID)

                let attempts = try await up.api("GET", "/v1/delivery-attempts?event_id=\(queueID)")
                #expect(attempts.status == 200)
                expectSameShape(attempts.json, as: try Self.seed("hookstream-delivery-attempts-filled"))
                guard case .array(let records)? = attempts.json["delivery_attempts"] else {
                    throw UpTestError("no delivery_attempts array")
                }
                #expect(records.count == 1)
                #expect(records.first?["response_status"] == .integer(200))
                #expect(records.first?["env_id"]?.text == "test")

                // The target got it once, signed with the dev account's secret.
                let received = try target.requests("/ok/up")
                #expect(received.count == 1)
                let request = try #require(received.first)
                #expect(request.header("X-Harepost-Delivery-Id") == queueID)
                let signature = try #require(request.header("X-Harepost-Signature"))
                let timestamp = try #require(signature.split(separator: ",").first?.dropFirst(2))
                let mac = HMAC<SHA256>.authenticationCode(
                    for: Array("\(timestamp).".utf8) + request.body,
                    using: SymmetricKey(data: Array(up.signingSecret.utf8))
                )
                #expect(signature.hasSuffix("v1=" + mac.map { String(format: "%02x", $0) }.joined()))

                // One scrape of the gateway covers every component.
                var scrape = URLRequest(url: URL(string: up.base + "/metrics")!)
                scrape.timeoutInterval = 10
                let (data, _) = try await URLSession.shared.data(for: scrape)
                let metrics = String(decoding: data, as: UTF8.self)
                for line in [
                    #"harepost_component_up{component="auth"} 1"#,
                    #"harepost_component_up{component="store"} 1"#,
                    #"harepost_component_up{component="dispatcher"} 1"#,
                    #"harepost_component_up{component="gateway"} 1"#,
                    #"harepost_delivery_attempts_total{component="dispatcher",status="delivered"} 1"#,
                    #"harepost_http_request_duration_seconds_count{component="gateway",route="send",status="202"} 1"#,
                    #"harepost_queue_pending{component="store"} 0.0"#,
                    #"harepost_rpc_server_duration_seconds_count{component="store",method="harepost.store.v1.Store/Send",code="OK"} 1"#,
                ] {
                    #expect(metrics.split(separator: "\n").contains(Substring(line)), "missing \(line)")
                }

                // The operator CLI shows the same delivery.
                let cli = try await runChildProcess(
                    harepostBinary,
                    ["deliveries", "get", queueID, "--json", "--url", up.base, "--data-dir", up.dataDirectory]
                )
                #expect(cli.status == 0, "\(cli.errors)")
                #expect(try JSONParser.parse(cli.output) == delivery)

                #expect(await up.stop() == 0)
                // Every component stopped with it.
                #expect(["auth", "store", "dispatcher", "gateway"].allSatisfy { up.pid(of: $0) == nil })
            }
        }
    }

    @Test func aFailingTargetGoesFromRetryingToDeadLetter() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let up = try await RunningUp(directory: dir, caBundle: target.caPath)
                let sent = try await up.api(
                    "POST",
                    "/v1/send",
                    body: #"""
                        {"target": "\#(target.url("/status/503/dead"))", "body": "x",
                         "delivery": {"max_attempts": 3, "base_delay_ms": 400, "backoff": "fixed", "jitter": "none"}}
                        """#
                )
                #expect(sent.status == 202)
                let queueID = try #require(sent.json["queue_id"]?.text)

                let retrying = try await up.waitForDelivery(queueID) { $0["status"]?.text == "retrying" }
                #expect(retrying["status"]?.text == "retrying")
                let dead = try await up.waitForDelivery(queueID) { $0["status"]?.text == "dead_letter" }
                guard case .array(let attempts)? = dead["attempts"] else { throw UpTestError("no attempts") }
                #expect(attempts.count == 3)
                #expect(attempts.allSatisfy { $0["http_status"] == .integer(503) && $0["outcome"]?.text == "failed" })
                #expect(try target.requests("/status/503/dead").count == 3)

                let dlq = try await up.api("GET", "/v1/delivery-attempts?is_dlq=1&event_id=\(queueID)")
                guard case .array(let dlqAttempts)? = dlq.json["delivery_attempts"] else { throw UpTestError("no dlq") }
                #expect(!dlqAttempts.isEmpty)
                #expect(dlqAttempts.allSatisfy { $0["is_dlq"] == .integer(1) })

                #expect(await up.stop() == 0)
            }
        }
    }

    /// kill -9 of each component in turn while a client keeps sending: every
    /// send that got a 202 is delivered once everything is back.
    @Test(.timeLimit(.minutes(5))) func killingEachComponentLosesNoAcceptedDelivery() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let up = try await RunningUp(directory: dir, caBundle: target.caPath)
                let accepted = AcceptedSends()
                let body =
                    #"{"target": "\#(target.url("/ok/chaos"))", "body": {"n": 1}, "delivery": {"timeout_ms": 1000}}"#

                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Stopped by a flag, not by cancellation: cancelling a task
                    // inside URLSession's async data(for:) can deadlock the
                    // Swift runtime on Linux (seen here).
                    group.addTask {
                        while await !accepted.stopped {
                            if let answer = try? await up.api("POST", "/v1/send", body: body), answer.status == 202,
                                let id = answer.json["queue_id"]?.text
                            {
                                await accepted.add(id)
                            }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                    for component in ["store", "dispatcher", "auth", "gateway"] {
                        try await accepted.waitForMore(5)
                        let victim = try #require(up.pid(of: component))
                        kill(victim, SIGKILL)
                        // up starts a new one; the gateway answers /readyz again.
                        let deadline = ContinuousClock.now + .seconds(30)
                        while ContinuousClock.now < deadline {
                            if let pid = up.pid(of: component), pid != victim,
                                (try? await up.api("GET", "/readyz"))?.status == 200
                            {
                                break
                            }
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        #expect(up.pid(of: component).map { $0 != victim } == true, "\(component) was not restarted")
                    }
                    try await accepted.waitForMore(5)
                    await accepted.stop()
                    try await group.waitForAll()
                }

                let ids = await accepted.ids
                #expect(ids.count >= 20, "too few sends were accepted to mean anything: \(ids.count)")
                for id in ids {
                    let delivery = try await up.waitForDelivery(id, timeout: .seconds(60)) {
                        $0["status"]?.text == "delivered"
                    }
                    #expect(delivery["status"]?.text == "delivered", "\(id)")
                }
                // At least once: every accepted id reached the target.
                let seen = Set(try target.requests("/ok/chaos").compactMap { $0.header("X-Harepost-Delivery-Id") })
                #expect(Set(ids).isSubset(of: seen))
                #expect(await up.stop() == 0)
            }
        }
    }
}

actor AcceptedSends {
    private(set) var ids: [String] = []
    private(set) var stopped = false
    func add(_ id: String) { ids.append(id) }
    func stop() { stopped = true }

    /// Returns once `count` more sends than now were accepted.
    func waitForMore(_ count: Int) async throws {
        let target = ids.count + count
        while ids.count < target { try await Task.sleep(for: .milliseconds(20)) }
    }
}

struct UpTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
