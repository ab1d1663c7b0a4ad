import Foundation
import HTTPTypes
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Hummingbird
import Testing

@testable import HarepostGateway

@Suite("Gateway errors", .timeLimit(.minutes(2)))
struct GatewayErrorTests {
    @Test func badRequestsNameWhatIsWrong() async throws {
        try await GatewayHarness.with { gateway in
            let malformed = try await gateway.request(.post, "/v1/send", json: #"{"target": "#)
            #expect(malformed.status == 400)
            #expect(malformed.json["error"].map { "\($0)".contains("JSON") } == true, "\(malformed.text)")

            let wrongType = try await gateway.request(.post, "/v1/send", json: #"{"target": 5}"#)
            #expect(wrongType.status == 400)
            #expect(wrongType.json["error"] == .string("invalid field target"))

            let http = try await gateway.request(.post, "/v1/send", json: #"{"target": "http://your-app.com/"}"#)
            #expect(http.status == 400)
            #expect(http.json["error"] == .string("target must use https"))

            for (query, parameter) in [("status=bogus", "status"), ("limit=0", "limit"), ("limit=abc", "limit")] {
                let reply = try await gateway.request(.get, "/v1/deliveries?\(query)")
                #expect(reply.status == 400, "\(query)")
                #expect(reply.text.contains(parameter), "\(query): \(reply.text)")
            }
            let attempts = try await gateway.request(.get, "/v1/delivery-attempts?is_dlq=maybe")
            #expect(attempts.status == 400)
            #expect(attempts.json["error"] == .string("invalid query parameter is_dlq"))
        }
    }

    @Test func authenticationIsRequiredAndChecked() async throws {
        try await GatewayHarness.with { gateway in
            let none = try await gateway.request(.get, "/v1/deliveries", as: .anonymous)
            #expect(none.status == 401)
            #expect(none.json.keys == ["error", "detail"])
            let unknown = try await gateway.request(
                .get,
                "/v1/deliveries",
                as: .key("hp_live_" + String(repeating: "0", count: 64))
            )
            #expect(unknown.status == 401)
            var headers = HTTPFields()
            headers[HTTPField.Name("X-API-Key")!] = gateway.apiKey
            let viaHeader = try await gateway.request(.get, "/v1/deliveries", as: .anonymous, headers: headers)
            #expect(viaHeader.status == 200)
            // Closed sign-up: account creation through the gateway is refused.
            let signup = try await gateway.request(.post, "/v1/accounts", json: #"{"name": "x"}"#, as: .anonymous)
            #expect(signup.status == 403)
        }
    }

    @Test func theBearerSchemeIsParsedByteWise() {
        #expect(RouteBridge.bearerToken("Bearer hp_live_1") == "hp_live_1")
        #expect(RouteBridge.bearerToken("bEaReR \t hp_live_1 \t") == "hp_live_1")
        #expect(RouteBridge.bearerToken("Bearer ") == "")
        #expect(RouteBridge.bearerToken("Basic dXNlcjpwYXNz") == nil)
        #expect(RouteBridge.bearerToken("Bearers x") == nil)
        #expect(RouteBridge.bearerToken("Bearer") == nil)
        #expect(RouteBridge.bearerToken("Béarer x") == nil)
    }

    @Test func unknownRoutesWrongMethodsAndLargeBodies() async throws {
        try await GatewayHarness.with(configuration: .init(port: 0, http: .init(maximumBodyBytes: 1024))) { gateway in
            let unknown = try await gateway.request(.get, "/v1/nothing-here")
            #expect(unknown.status == 404)
            #expect(unknown.json["error"] == .string("not found"))
            let wrongMethod = try await gateway.request(.delete, "/v1/send")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "POST")
            let large = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "https://your-app.com/", "body": "\#(String(repeating: "x", count: 4096))"}"#
            )
            #expect(large.status == 413)
            #expect(large.json["error"] == .string("request body too large"))
        }
    }

    @Test func theRateLimitAnswers429WithRetryAfter() async throws {
        try await GatewayHarness.with { gateway in
            _ = try await gateway.auth.call(
                "harepost.auth.v1.Auth/SetRateLimit",
                try ProtoMessage("harepost.auth.v1.SetRateLimitRequest", ["rate_limit_per_minute": .int32(3)]),
                options: .init(metadata: [RPCMetadataKey.accountID: gateway.accountID])
            )
            // The limiter counts in fixed one-minute windows: five requests
            // that straddle a minute's end start a new count half-way. Start
            // early in a minute (the requests take well under 15 seconds).
            let secondOfMinute = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
            if secondOfMinute > 45 { try await Task.sleep(for: .seconds(60.1 - secondOfMinute)) }
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<5 {
                let reply = try await gateway.request(.get, "/v1/deliveries")
                statuses.append(reply.status)
                if reply.status == 429 { retryAfter = reply.header("Retry-After") }
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            #expect(retryAfter.flatMap(Int.init).map { (1...60).contains($0) } == true)
        }
    }
}
