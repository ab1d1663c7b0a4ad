import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An HTTP GET against the gateway: status and parsed JSON body.
func httpGet(_ url: String) async throws -> (status: Int, json: [String: Any]) {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 5
    let (data, response) = try await URLSession.shared.data(for: request)
    let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    return ((response as! HTTPURLResponse).statusCode, json)
}

@Suite("Gateway process", .timeLimit(.minutes(2)))
struct GatewayProcessTests {
    @Test func readinessFollowsTheBackendsAndErrorsAreJSON() async throws {
        try await withRunDirectory { dir in
            let port = Int.random(in: 20000...60000)
            let base = "http://127.0.0.1:\(port)"
            let auth = try ComponentProcess("auth", socket: "\(dir)/auth.sock")
            let store = try ComponentProcess("store", socket: "\(dir)/store.sock")
            // From a directory without gateway-config/: the built-in route map.
            let gateway = try ComponentProcess(
                ["gateway", "--port", "\(port)", "--run-dir", dir, "--log-level", "warning"],
                socket: "",
                directory: dir
            )

            // Ready once the gateway listens and both backends serve.
            let deadline = ContinuousClock.now + .seconds(20)
            var ready: (status: Int, json: [String: Any])?
            while ContinuousClock.now < deadline {
                if let answer = try? await httpGet("\(base)/readyz"), answer.status == 200 {
                    ready = answer
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let readyAnswer = try #require(ready)
            #expect(readyAnswer.json["status"] as? String == "ready")
            #expect(readyAnswer.json["backends"] as? [String: String] == ["auth": "serving", "store": "serving"])
            #expect(try await httpGet("\(base)/healthz").status == 200)

            // A route of the map answers (401 without a key), not 404.
            #expect(try await httpGet("\(base)/v1/deliveries").status == 401)
            let missing = try await httpGet("\(base)/v1/nope")
            #expect(missing.status == 404)
            #expect(missing.json["error"] as? String == "not found")

            // A backend goes down: not ready, answered promptly, naming it.
            store.terminate()
            #expect(await store.waitForExit() == 0)
            let started = ContinuousClock.now
            let notReady = try await httpGet("\(base)/readyz")
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(notReady.status == 503)
            #expect((notReady.json["backends"] as? [String: String])?["store"] == "unavailable")
            #expect(try await httpGet("\(base)/healthz").status == 200)

            gateway.terminate()
            auth.terminate()
            #expect(await gateway.waitForExit() == 0)
            #expect(await auth.waitForExit() == 0)
        }
    }
}
