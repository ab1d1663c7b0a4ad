import Foundation
import HTTPTypes
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

@testable import HarepostGateway

/// docs/openapi.yaml must describe what the gateway really answers: live
/// responses of every route (successes and errors) are validated against it
/// with Python's jsonschema, and every configured route must be documented.
@Suite("OpenAPI document", .timeLimit(.minutes(2)))
struct GatewayOpenAPITests {
    static let openAPIPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/openapi.yaml").standardized.path

    /// Loads the document named by the first argument as `spec`, with
    /// `resolve` inlining its `$ref`s: the start of both checkers.
    static let loader = """
        import json, sys, yaml, jsonschema
        spec = yaml.safe_load(open(sys.argv[1]))
        def resolve(node):
            if isinstance(node, dict):
                if "$ref" in node:
                    target = spec
                    for part in node["$ref"][2:].split("/"):
                        target = target[part]
                    return resolve(target)
                return {k: resolve(v) for k, v in node.items()}
            if isinstance(node, list):
                return [resolve(v) for v in node]
            return node
        """

    static let checker =
        loader + "\n" + """
            routes = json.load(open(sys.argv[2]))["routes"]
            exchanges = json.load(open(sys.argv[3]))
            for route in routes:
                path = spec["paths"].get(route["path"])
                assert path and route["method"].lower() in path, "undocumented route %s %s" % (route["method"], route["path"])
            for e in exchanges:
                where = "%s %s -> %s" % (e["method"], e["path"], e["status"])
                operation = spec["paths"][e["path"]][e["method"].lower()]
                response = operation["responses"].get(str(e["status"]))
                assert response, "undocumented status: " + where
                schema = resolve(response)["content"]["application/json"]["schema"]
                errors = [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(e["body"])]
                assert not errors, where + ": " + "; ".join(errors) + " in " + json.dumps(e["body"])
            print("ok %d" % len(exchanges))
            """

    @Test func liveResponsesMatchTheDocument() async throws {
        let exchanges = try await GatewayHarness.with(openSignup: true) { gateway in
            var exchanges: [JSONValue] = []
            func record(_ method: String, _ template: String, _ reply: GatewayHarness.Reply) {
                exchanges.append(
                    .object([
                        ("method", .string(method)), ("path", .string(template)),
                        ("status", .integer(Int64(reply.status))), ("body", reply.json),
                    ])
                )
            }
            record(
                "POST",
                "/v1/accounts",
                try await gateway.request(.post, "/v1/accounts", json: #"{"name": "A"}"#, as: .anonymous)
            )
            record(
                "POST",
                "/v1/accounts",
                try await gateway.request(.post, "/v1/accounts", json: #"{"name": 1}"#, as: .anonymous)
            )
            record("GET", "/v1/signing-secret", try await gateway.request(.get, "/v1/signing-secret"))
            record("GET", "/v1/signing-secret", try await gateway.request(.get, "/v1/signing-secret", as: .anonymous))
            record(
                "POST",
                "/v1/domains",
                try await gateway.request(.post, "/v1/domains", json: #"{"domain": "a.example.com"}"#)
            )
            record("POST", "/v1/domains", try await gateway.request(.post, "/v1/domains", json: #"{"domain": "nope"}"#))
            record("GET", "/v1/domains", try await gateway.request(.get, "/v1/domains"))
            let verify = try await gateway.request(.post, "/v1/domains/verify", json: #"{"domain": "a.example.com"}"#)
            record("POST", "/v1/domains/verify", verify)
            record(
                "POST",
                "/v1/domains/verify",
                try await gateway.request(.post, "/v1/domains/verify", json: #"{"domain": "b.example.com"}"#)
            )
            let sent = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "https://a.example.com/hook", "body": {"x": 1}, "idempotency_key": "k1"}"#
            )
            record("POST", "/v1/send", sent)
            record(
                "POST",
                "/v1/send",
                try await gateway.request(.post, "/v1/send", json: #"{"target": "https://a.example.com/2"}"#)
            )
            record("POST", "/v1/send", try await gateway.request(.post, "/v1/send", json: #"{}"#))
            guard case .string(let queueID)? = sent.json["queue_id"] else { throw CancellationError() }

            // One failed attempt recorded through the store's queue, as the dispatcher would.
            let claimed = try await gateway.store.call(
                "harepost.store.v1.Store/ClaimDue",
                try ProtoMessage(
                    "harepost.store.v1.ClaimDueRequest",
                    ["max_tasks": .int32(10), "worker_id": .string("t")]
                )
            )
            for task in claimed.values("tasks").compactMap(\.messageValue) {
                var attempt = try ProtoMessage(
                    "harepost.store.v1.AttemptRecord",
                    [
                        "http_status": .int32(503), "duration_ms": .int64(12), "error": .string("HTTP 503"),
                        "request_url": .string(task.string("target") ?? ""), "request_method": .string("POST"),
                        "request_body_size": .int64(7), "response_body": .bytes(Array("later".utf8)),
                    ]
                )
                try attempt.set("outcome", enumName: "failed")
                try attempt.set("request_headers", stringMap: ["Content-Type": "application/json"])
                try attempt.set("response_headers", stringMap: ["Retry-After": "1"])
                var record = try ProtoMessage(
                    "harepost.store.v1.RecordAttemptRequest",
                    [
                        "queue_id": .string(task.string("queue_id") ?? ""),
                        "lease_id": .string(task.string("lease_id") ?? ""),
                        "attempt": .message(attempt),
                        "next_attempt_at": .timestamp(unixMilliseconds: Date().unixMilliseconds + 60_000),
                    ]
                )
                try record.set("new_status", enumName: "retrying")
                _ = try await gateway.store.call("harepost.store.v1.Store/RecordAttempt", record)
            }

            record("GET", "/v1/deliveries/{queue_id}", try await gateway.request(.get, "/v1/deliveries/\(queueID)"))
            record("GET", "/v1/deliveries/{queue_id}", try await gateway.request(.get, "/v1/deliveries/hr_missing"))
            record(
                "POST",
                "/v1/deliveries/{queue_id}/retry",
                try await gateway.request(.post, "/v1/deliveries/\(queueID)/retry")
            )
            record("GET", "/v1/deliveries", try await gateway.request(.get, "/v1/deliveries?limit=1"))
            record("GET", "/v1/deliveries", try await gateway.request(.get, "/v1/deliveries?status=retrying"))
            record("GET", "/v1/deliveries", try await gateway.request(.get, "/v1/deliveries?limit=abc"))
            record("GET", "/v1/delivery-attempts", try await gateway.request(.get, "/v1/delivery-attempts"))
            record(
                "GET",
                "/v1/delivery-attempts",
                try await gateway.request(.get, "/v1/delivery-attempts?status=failed&limit=1")
            )
            record("GET", "/v1/delivery-attempts", try await gateway.request(.get, "/v1/delivery-attempts?is_dlq=x"))
            return exchanges
        }
        let file = NSTemporaryDirectory() + "hp-openapi-\(UUID().uuidString).json"
        try Data(JSONWriter.bytes(.array(exchanges))).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await runTool([
            "python3", "-c", Self.checker, Self.openAPIPath, GatewayHarness.routesPath, file,
        ])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output == "ok \(exchanges.count)\n")
    }

    /// The document's request schemas draw the line where the server does:
    /// each body below is sent, and judged by the document's schema with
    /// jsonschema; the server refuses it with 400 exactly when the document
    /// says it is invalid (the gaps a schema-driven fuzzer finds).
    static let requestChecker =
        loader + "\n" + """
            cases = json.load(open(sys.argv[2]))
            wrong = []
            for c in cases:
                schema = resolve(spec["paths"][c["path"]]["post"]["requestBody"])["content"]["application/json"]["schema"]
                valid = jsonschema.Draft202012Validator(schema).is_valid(c["body"])
                if valid != (c["status"] != 400):
                    wrong.append("%s %s: document says %s, server answered %s" % (
                        c["path"], json.dumps(c["body"]), "valid" if valid else "invalid", c["status"]))
            assert not wrong, "\\n".join(wrong)
            print("ok %d" % len(cases))
            """

    @Test func requestsTheDocumentRefusesAreExactlyTheOnesTheServerRefuses() async throws {
        let target = "https://a.example.com/x"
        let sends: [String] = [
            #"{"target": "\#(target)"}"#,
            #"{"target": "\#(target)", "colour": 1}"#,
            #"{"target": "\#(target)", "delivery": {"retries": 3}}"#,
            #"{"target": "\#(target)", "delivery": {"max_attempts": 1000}}"#,
            #"{"target": "\#(target)", "idempotency_key": ""}"#,
            #"{"target": "\#(target)", "idempotency_key": "\#(String(repeating: "k", count: 255))"}"#,
            #"{"target": "\#(target)", "idempotency_key": "\#(String(repeating: "k", count: 256))"}"#,
            #"{"target": "\#(target)", "idempotency_key": "K\u0000A"}"#,
            #"{"target": "\#(target)", "headers": {"X-A": "1"}}"#,
            #"{"target": "\#(target)", "headers": {"X A": "1"}}"#,
            #"{"target": "\#(target)", "headers": {"X(A)": "1"}}"#,
            #"{"target": "\#(target)", "headers": {"X-A": "a\r\nb"}}"#,
            #"{"target": "\#(target)", "method": "put"}"#,
            #"{"target": "\#(target)", "method": "TRACE"}"#,
            #"{"target": "https://a.example.com/\#(String(repeating: "p", count: 2030))"}"#,
            #"{"target": "https://a.example.com/\#(String(repeating: "p", count: 2040))"}"#,
            #"{"target": "\#(target)", "body": "text", "sign": true, "metadata": {"k": [1, {"n": null}]}}"#,
        ]
        let domains = [
            #"{"domain": "b.example.com"}"#, #"{"domain": "B.Example.COM."}"#, #"{"domain": "-b.example.com"}"#,
            #"{"domain": "example"}"#, #"{"domain": "b_c.example.com"}"#, #"{"domain": "c.example.com", "x": 1}"#,
        ]
        let accounts = [
            #"{"name": "Acme"}"#, #"{"name": ""}"#, #"{"name": "   "}"#, #"{"name": "A\u0000B"}"#,
            #"{"name": "Acme", "environment": "test"}"#, #"{"name": "Acme", "plan": "pro"}"#,
        ]
        let cases = try await GatewayHarness.with(openSignup: true) { gateway in
            var cases: [JSONValue] = []
            for (path, bodies) in [("/v1/send", sends), ("/v1/domains", domains), ("/v1/accounts", accounts)] {
                for body in bodies {
                    let reply = try await gateway.request(
                        .post,
                        path,
                        json: body,
                        as: path == "/v1/accounts" ? .anonymous : .account
                    )
                    cases.append(
                        .object([
                            ("path", .string(path)), ("body", try JSONParser.parse(Array(body.utf8))),
                            ("status", .integer(Int64(reply.status))),
                        ])
                    )
                }
            }
            return cases
        }
        let file = NSTemporaryDirectory() + "hp-openapi-requests-\(UUID().uuidString).json"
        try Data(JSONWriter.bytes(.array(cases))).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await runTool(["python3", "-c", Self.requestChecker, Self.openAPIPath, file])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output == "ok \(cases.count)\n")
    }
}
