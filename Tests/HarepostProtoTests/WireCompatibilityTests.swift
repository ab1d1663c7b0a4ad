import Foundation
import HarepostProto
import HarepostTestSupport
import Testing

/// Bytes packed by protobuf-c must decode with the stock protobuf compiler
/// (`protoc --decode`, Debian's protobuf-compiler): any protobuf implementation
/// can talk to harepost's services.
@Suite("Wire compatibility with protoc")
struct WireCompatibilityTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `protoc --decode=<type>` on `bytes`; returns its text-format output.
    static func protocDecode(_ bytes: [UInt8], type: String, file: String) async throws -> String {
        let result = try await runTool(
            [
                "protoc", "--decode=\(type)", "-I", packageRoot.appendingPathComponent("proto").path, "-I",
                "/usr/include", file,
            ],
            input: bytes
        )
        guard result.status == 0 else {
            throw ProtocFailure(description: "protoc exited \(result.status): \(result.errors)")
        }
        return result.output
    }

    struct ProtocFailure: Error, CustomStringConvertible {
        let description: String
    }

    @Test func storeSendRequestDecodesWithProtoc() async throws {
        let text = try await Self.protocDecode(
            ProtoMessageTests.sendRequest().serializedBytes(),
            type: "harepost.store.v1.SendRequest",
            file: "harepost/store/v1/store.proto"
        )
        #expect(text.contains(#"target: "https://your-app.com/webhook""#))
        #expect(text.contains(#"method: "PUT""#))
        #expect(text.contains(#"key: "X-Order""#) && text.contains(#"value: "123""#))
        #expect(text.contains("max_attempts: 3"))
        #expect(text.contains("backoff: BACKOFF_FIXED"))
        #expect(text.contains("respect_retry_after: false"))  // a present false survives
        #expect(text.contains("number_value: 42.5"))
        #expect(text.contains("sign: true"))
    }

    @Test func authResponseDecodesWithProtoc() async throws {
        var response = try ProtoMessage("harepost.auth.v1.CreateAccountResponse")
        try response.set("id", .string("acct_1"))
        try response.set("api_key", .string("hp_live_abc"))
        try response.set("created_at", .message(.timestamp(seconds: 1_781_101_330, nanos: 5)))
        let text = try await Self.protocDecode(
            response.serializedBytes(),
            type: "harepost.auth.v1.CreateAccountResponse",
            file: "harepost/auth/v1/auth.proto"
        )
        #expect(text.contains(#"id: "acct_1""#))
        #expect(text.contains(#"api_key: "hp_live_abc""#))
        #expect(text.contains("seconds: 1781101330") && text.contains("nanos: 5"))
    }

    @Test func dispatcherStatusDecodesWithProtoc() async throws {
        var status = try ProtoMessage("harepost.dispatcher.v1.GetStatusResponse")
        try status.set("in_flight", .int64(12))
        try status.set("max_in_flight", .int64(Int64(1) << 40))
        let text = try await Self.protocDecode(
            status.serializedBytes(),
            type: "harepost.dispatcher.v1.GetStatusResponse",
            file: "harepost/dispatcher/v1/dispatcher.proto"
        )
        #expect(text.contains("in_flight: 12"))
        #expect(text.contains("max_in_flight: 1099511627776"))
    }

    @Test func rpcEnvelopeDecodesWithProtoc() async throws {
        var envelope = try ProtoMessage("harepost.rpc.v1.Envelope")
        try envelope.set("kind", enumName: "response")
        try envelope.set("call_id", .uint64(UInt64.max))
        try envelope.set("code", enumName: "deadline_exceeded")
        try envelope.set("metadata", stringMap: ["x-request-id": "req_1"])
        try envelope.set("payload", .bytes([0, 1, 2]))
        let text = try await Self.protocDecode(
            envelope.serializedBytes(),
            type: "harepost.rpc.v1.Envelope",
            file: "harepost/rpc/v1/rpc.proto"
        )
        #expect(text.contains("kind: FRAME_KIND_RESPONSE"))
        #expect(text.contains("call_id: 18446744073709551615"))
        #expect(text.contains("code: DEADLINE_EXCEEDED"))
        #expect(text.contains(#"value: "req_1""#))
        #expect(text.contains(#"payload: "\000\001\002""#))
    }
}
