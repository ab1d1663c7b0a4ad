import Foundation
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Hummingbird
import Testing

@testable import HarepostGateway

@Suite("Gateway routes", .timeLimit(.minutes(2)))
struct GatewayRouteTests {
    static func seed(_ name: String) throws -> JSONValue { try JSONParser.parse(try TestFixtures.json(name)) }

    @Test func everyRouteAnswersInTheDocumentedShape() async throws {
        try await GatewayHarness.with(openSignup: true) { gateway in
            // Accounts and secrets.
            let account = try await gateway.request(.post, "/v1/accounts", json: #"{"name": "Second"}"#, as: .anonymous)
            #expect(account.status == 201)
            #expect(account.json.keys == ["id", "name", "api_key", "signing_secret", "created_at"])
            let secret = try await gateway.request(.get, "/v1/signing-secret")
            #expect(secret.status == 200)
            #expect(secret.json == .object([("signing_secret", .string(gateway.signingSecret))]))

            // Domains.
            let added = try await gateway.request(.post, "/v1/domains", json: #"{"domain": "Your-App.com"}"#)
            #expect(added.status == 201)
            #expect(added.json["domain"] == .string("your-app.com"))
            #expect(added.json["status"] == .string("pending"))
            #expect(added.json["record"]?.keys == ["type", "name", "value"])
            let domains = try await gateway.request(.get, "/v1/domains")
            #expect(domains.status == 200)
            #expect(domains.json["data"].map { if case .array(let items) = $0 { items.count } else { 0 } } == 1)
            let first = try #require(
                { if case .array(let items)? = domains.json["data"] { items.first } else { nil } }()
            )
            #expect(first.keys == ["domain", "status", "created_at", "verified_at"])
            #expect(first["verified_at"] == .null)

            // Send, then both lookup APIs.
            let sent = try await gateway.request(
                .post,
                "/v1/send",
                json:
                    #"{"target": "https://your-app.com/webhook", "body": {"a": 1}, "idempotency_key": "ord_123-paid"}"#
            )
            #expect(sent.status == 202)
            #expect(sent.json.keys == ["queue_id", "status", "created_at", "idempotency_key"])
            #expect(sent.json["status"] == .string("queued"))
            guard case .string(let queueID)? = sent.json["queue_id"] else {
                Issue.record("no queue_id in \(sent.text)")
                return
            }
            let delivery = try await gateway.request(.get, "/v1/deliveries/\(queueID)")
            #expect(delivery.status == 200)
            expectSameShape(delivery.json, as: try Self.seed("harepost-get-delivery"))
            #expect(delivery.json["attempts"] == .array([]))
            #expect(delivery.json["last_status"] == .null)

            let list = try await gateway.request(.get, "/v1/deliveries?status=queued&limit=10")
            #expect(list.status == 200)
            expectSameShape(list.json, as: try Self.seed("harepost-list-deliveries"))
            guard case .array(let listed)? = list.json["data"] else {
                Issue.record("no data in \(list.text)")
                return
            }
            #expect(listed.first?["attempts"] == .integer(0))
            #expect(list.json["next_cursor"] == .null)

            let attempts = try await gateway.request(.get, "/v1/delivery-attempts?limit=5&offset=0")
            #expect(attempts.status == 200)
            expectSameShape(attempts.json, as: try Self.seed("hookstream-delivery-attempts"))
            #expect(attempts.json["pagination"]?["limit"] == .integer(5))
            #expect(attempts.json["pagination"]?["total"] == .integer(0))

            // Retrying a queued delivery is refused with the store's reason.
            let retry = try await gateway.request(.post, "/v1/deliveries/\(queueID)/retry")
            #expect(retry.status == 400)
            #expect(retry.json.keys == ["error"])

            // Verification: the TXT record is not there, so 409 with status pending.
            let verify = try await gateway.request(.post, "/v1/domains/verify", json: #"{"domain": "your-app.com"}"#)
            #expect([409, 503].contains(verify.status))
            if verify.status == 409 { #expect(verify.json["status"] == .string("pending")) }
        }
    }

    @Test func anotherAccountsDeliveryIsNotFound() async throws {
        try await GatewayHarness.with { gateway in
            let sent = try await gateway.request(.post, "/v1/send", json: #"{"target": "https://your-app.com/x"}"#)
            guard case .string(let queueID)? = sent.json["queue_id"] else { throw CancellationError() }
            let other = try await gateway.auth.call(
                "harepost.auth.v1.Auth/CreateAccount",
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Other")])
            )
            let seen = try await gateway.request(.get, "/v1/deliveries/\(queueID)", as: .key(other.string("api_key")))
            #expect(seen.status == 404)
            let missing = try await gateway.request(.get, "/v1/deliveries/hr_doesnotexist")
            #expect(missing.status == 404)
            #expect(missing.json["error"] != nil)
        }
    }

    /// No accepted byte changes on its way through: a body string holding
    /// U+0000 reaches the dispatcher's task whole; an idempotency key or a
    /// header value cannot hold it and is refused, never cut.
    @Test func nulInStringsIsKeptOrRefusedNeverCut() async throws {
        try await GatewayHarness.with { gateway in
            let target = "https://your-app.com/nul"
            let first = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "\#(target)", "body": {"k": "x\u0000y"}}"#
            )
            let second = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "\#(target)", "body": "a\u0000b", "headers": {"X-\u00e9": "v"}}"#
            )
            #expect(first.status == 202)
            #expect(second.status == 400)  // a header name must be a token
            let third = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "\#(target)", "body": "a\u0000b"}"#
            )
            #expect(third.status == 202)
            let claimed = try await gateway.store.call(
                "harepost.store.v1.Store/ClaimDue",
                try ProtoMessage(
                    "harepost.store.v1.ClaimDueRequest",
                    ["max_tasks": .int32(10), "worker_id": .string("test")]
                )
            )
            let bodies = Set(claimed.values("tasks").compactMap { $0.messageValue?["body"]?.bytesValue })
            #expect(bodies == [Array(#"{"k":"x\u0000y"}"#.utf8), Array("a\u{0}b".utf8)])
            for (json, error) in [
                (#""idempotency_key": "K\u0000A""#, "idempotency_key must not contain U+0000"),
                (#""headers": {"X-A": "v\u0000w"}"#, "headers.X-A: value must not contain CR, LF or NUL"),
            ] {
                let refused = try await gateway.request(.post, "/v1/send", json: #"{"target": "\#(target)", \#(json)}"#)
                #expect(refused.status == 400)
                #expect(refused.json["error"] == .string(error))
            }
        }
    }
}
