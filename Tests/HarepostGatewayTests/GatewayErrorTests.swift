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

            let twice = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "https://your-app.com/", "headers": {"X-A": "1", "x-a": "2"}}"#
            )
            #expect(twice.status == 400)
            #expect(twice.json["error"] == .string(#"headers: "X-A" and "x-a" name the same header"#))

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

    /// The gateway's JSON nesting limit keeps every request it accepts
    /// within the RPC's message nesting limit: the deepest body it takes is
    /// stored, one level more is refused by the gateway as nested too
    /// deeply, never by the store as "not a valid SendRequest".
    @Test func nestingLimitsAgreeAndSayNestedTooDeeply() async throws {
        try await GatewayHarness.with { gateway in
            func body(objects: Int) -> String {
                // The request object is the first level, so the body takes the rest.
                String(repeating: #"{"a":"#, count: objects) + "1" + String(repeating: "}", count: objects)
            }
            let deepest = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "https://your-app.com/x", "body": \#(body(objects: 31))}"#
            )
            #expect(deepest.status == 202)
            let deeper = try await gateway.request(
                .post,
                "/v1/send",
                json: #"{"target": "https://your-app.com/x", "body": \#(body(objects: 32))}"#
            )
            #expect(deeper.status == 400)
            #expect(deeper.text.contains("nested too deeply (more than 32 levels)"), "\(deeper.text)")
            // A client of the RPC itself gets the same words from the store.
            var value = try ProtoMessage("google.protobuf.Value", ["number_value": .double(1)])
            for _ in 0..<40 {
                var entry = try ProtoMessage("google.protobuf.Struct.FieldsEntry", ["key": .string("a")])
                try entry.set("value", .message(value))
                var object = try ProtoMessage("google.protobuf.Struct")
                try object.set("fields", values: [.message(entry)])
                value = try ProtoMessage("google.protobuf.Value", ["struct_value": .message(object)])
            }
            var request = try ProtoMessage(
                "harepost.store.v1.SendRequest",
                ["target": .string("https://your-app.com/x")]
            )
            try request.set("body", .message(value))
            await #expect(throws: RPCError.invalidArgument("request nests messages too deeply (more than 100 levels)"))
            {
                try await gateway.store.call(
                    "harepost.store.v1.Store/Send",
                    request,
                    options: RPCCallOptions(metadata: [
                        RPCMetadataKey.accountID: gateway.accountID, RPCMetadataKey.environment: "live",
                    ])
                )
            }
        }
    }

    /// What `harepost keys revoke` says: a gateway honours a revoked key
    /// until its cache entry expires, and with the cache off not at all.
    @Test(arguments: [Duration.seconds(3600), .zero])
    func aRevokedKeyStopsAtTheGatewayWhenItsCacheEntryExpires(ttl: Duration) async throws {
        try await GatewayHarness.with(configuration: .init(port: 0, authenticationCacheTTL: ttl)) { gateway in
            #expect(try await gateway.request(.get, "/v1/deliveries").status == 200)  // cached when ttl > 0
            let keys = try await gateway.auth.call(
                "harepost.auth.v1.Auth/ListApiKeys",
                try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                options: RPCCallOptions(metadata: [RPCMetadataKey.accountID: gateway.accountID])
            )
            let id = try #require(keys.values("data").first?.messageValue?.string("id"))
            _ = try await gateway.auth.call(
                "harepost.auth.v1.Auth/RevokeApiKey",
                try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest", ["id": .string(id)]),
                options: RPCCallOptions(metadata: [RPCMetadataKey.accountID: gateway.accountID])
            )
            let after = try await gateway.request(.get, "/v1/deliveries")
            #expect(after.status == (ttl == .zero ? 401 : 200))
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
        // The limiter counts in fixed one-minute windows; the clock stands
        // 20 s into one until the test moves it.
        let clock = ManualWallClock(unixMilliseconds: 1_781_100_000_000 + 20_000)  // a whole minute + 20 s
        try await GatewayHarness.with(configuration: .init(port: 0, clock: clock)) { gateway in
            _ = try await gateway.auth.call(
                "harepost.auth.v1.Auth/SetRateLimit",
                try ProtoMessage("harepost.auth.v1.SetRateLimitRequest", ["rate_limit_per_minute": .int32(3)]),
                options: .init(metadata: [RPCMetadataKey.accountID: gateway.accountID])
            )
            var statuses: [Int] = []
            var retryAfter: String?
            for _ in 0..<5 {
                let reply = try await gateway.request(.get, "/v1/deliveries")
                statuses.append(reply.status)
                if reply.status == 429 { retryAfter = reply.header("Retry-After") }
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            #expect(retryAfter == "40")  // to the next window
            // The next minute starts a new count.
            clock.advance(by: .seconds(40))
            #expect(try await gateway.request(.get, "/v1/deliveries").status == 200)
        }
    }
}
