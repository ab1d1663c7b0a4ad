import Foundation
import HarepostJSON
import HarepostTestSupport
import Testing

@Suite("harepost up: operator CLI and start-up", .timeLimit(.minutes(2)))
struct UpCommandTests {
    /// Runs the operator CLI against `up`'s gateway as the dev account.
    func cli(_ up: RunningUp, _ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        try await runChildProcess(harepostBinary, arguments + ["--url", up.base, "--data-dir", up.dataDirectory])
    }

    @Test func theOperatorCLIWorksOverThePublicAPI() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let up = try await RunningUp(directory: dir, caBundle: target.caPath)

                let sent = try await cli(
                    up,
                    [
                        "send", "--target", target.url("/ok/cli"), "--body-json", #"{"n": 1}"#, "--header",
                        "X-Trace: abc",
                        "--metadata", "order=9", "--idempotency-key", "cli-1", "--max-attempts", "2", "--json",
                    ]
                )
                #expect(sent.status == 0, "\(sent.errors)")
                let queueID = try #require(try JSONParser.parse(sent.output)["queue_id"]?.text)
                _ = try await up.waitForDelivery(queueID) { $0["status"]?.text == "delivered" }
                let received = try #require(try target.requests("/ok/cli").first)
                #expect(received.header("X-Trace") == "abc")
                #expect(received.header("X-Harepost-Idempotency-Key") == "cli-1")
                #expect(received.body == Array(#"{"n":1}"#.utf8))

                // Human output: a table with the delivery, its attempts.
                let list = try await cli(up, ["deliveries", "list", "--status", "delivered"])
                #expect(list.status == 0)
                #expect(list.output.hasPrefix("QUEUE ID"))
                #expect(list.output.contains(queueID) && list.output.contains("delivered"))
                let shown = try await cli(up, ["deliveries", "get", queueID])
                #expect(shown.output.contains("status           delivered   (last HTTP status 200)"))
                let attempts = try await cli(up, ["attempts", "list", "--delivery", queueID])
                #expect(attempts.output.contains(queueID) && attempts.output.contains("initial"))
                let attemptsJSON = try await cli(up, ["attempts", "list", "--delivery", queueID, "--json"])
                let pagination = try JSONParser.parse(attemptsJSON.output)["pagination"]
                #expect(pagination?["total"] == .integer(1))

                // The API's errors reach the operator, with distinct exit statuses.
                let badStatus = try await cli(up, ["deliveries", "list", "--status", "bogus"])
                #expect(badStatus.status == 1)
                #expect(badStatus.errors.hasPrefix("error: HTTP 400: invalid query parameter status"))
                let missing = try await cli(up, ["deliveries", "get", "hr_missing"])
                #expect(missing.status == 1)
                #expect(missing.errors.contains("HTTP 404"))
                let wrongKey = try await runChildProcess(
                    harepostBinary,
                    ["deliveries", "list", "--url", up.base, "--api-key", "hp_test_nope"]
                )
                #expect(wrongKey.status == 1)
                #expect(wrongKey.errors.contains("HTTP 401"))
                let unreachable = try await runChildProcess(
                    harepostBinary,
                    ["deliveries", "list", "--url", "http://127.0.0.1:9", "--api-key", up.apiKey]
                )
                #expect(unreachable.status == 69)
                let noKey = try await runChildProcess(
                    harepostBinary,
                    ["deliveries", "list", "--url", up.base, "--data-dir", "\(dir)/nowhere"]
                )
                #expect(noKey.status != 0)
                #expect(noKey.errors.contains("no API key"))

                #expect(await up.stop() == 0)
            }
        }
    }

    @Test func aSecondUpOnTheSameRunDirectoryRefusesToStart() async throws {
        try await ScriptedTarget.withTarget { target in
            try await withRunDirectory { dir in
                let up = try await RunningUp(directory: dir, caBundle: target.caPath)
                let second = try await runChildProcess(
                    harepostBinary,
                    [
                        "up", "--port", "1", "--data-dir", "\(dir)/data", "--run-dir", "\(dir)/run",
                        "--routes", RunningUp.routes,
                    ]
                )
                #expect(second.status != 0)
                #expect(second.errors.contains("another `harepost up` is running"))
                // The first one is unharmed.
                #expect(try await up.api("GET", "/readyz").status == 200)
                #expect(await up.stop() == 0)
            }
        }
    }

    /// The gateway cannot bind its port: up gives up after its start-up
    /// timeout, stops the components it started and exits 1.
    @Test func upStopsEverythingAndFailsWhenAComponentNeverBecomesHealthy() async throws {
        try await withRunDirectory { dir in
            let blocker = try ChildProcessHandle.start(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "python3", "-c",
                    "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); "
                        + "open(sys.argv[1],'w').write(str(s.getsockname()[1])); time.sleep(120)",
                    "\(dir)/port",
                ]
            )
            defer { blocker.kill9() }
            var port: Int?
            for _ in 0..<100 where port == nil {
                port = (try? String(contentsOfFile: "\(dir)/port", encoding: .utf8)).flatMap { Int($0) }
                try await Task.sleep(for: .milliseconds(50))
            }
            let started = ContinuousClock.now
            let up = try await runChildProcess(
                harepostBinary,
                [
                    "up", "--port", "\(try #require(port))", "--data-dir", "\(dir)/data", "--run-dir", "\(dir)/run",
                    "--routes", RunningUp.routes, "--startup-timeout-seconds", "2", "--log-level", "error",
                ]
            )
            #expect(up.status == 1)
            #expect(up.errors.contains("components did not become healthy"))
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(
                ["auth", "store", "dispatcher", "gateway"].allSatisfy {
                    !FileManager.default.fileExists(atPath: "\(dir)/run/\($0).pid")
                }
            )
        }
    }
}
