import HarepostJSON
import HarepostProto
import NIOCore
import NIOHTTP1

enum JSONResponse {
    static func make(_ status: HTTPResponseStatus, _ body: JSONValue) -> GatewayResponse {
        make(status, bytes: JSONWriter.bytes(body))
    }

    /// A message rendered as the route's answer, written straight from it.
    static func make(_ status: HTTPResponseStatus, _ message: ProtoMessage) -> GatewayResponse {
        make(status, bytes: ProtoJSON.encodeBytes(message))
    }

    private static func make(_ status: HTTPResponseStatus, bytes: [UInt8]) -> GatewayResponse {
        GatewayResponse(
            status: status,
            headers: ["content-type": "application/json"],
            body: ByteBuffer(bytes: bytes)
        )
    }

    /// The public error shape: `{"error": "<short message>", "detail": "<more>"}`.
    static func error(_ status: HTTPResponseStatus, _ message: String, detail: String? = nil) -> GatewayResponse {
        var members: [(key: String, value: JSONValue)] = [("error", .string(message))]
        if let detail { members.append(("detail", .string(detail))) }
        return make(status, .object(members))
    }
}
