import HarepostJSON
import NIOCore
import NIOHTTP1

enum JSONResponse {
    static func make(_ status: HTTPResponseStatus, _ body: JSONValue) -> GatewayResponse {
        GatewayResponse(
            status: status,
            headers: ["content-type": "application/json"],
            body: ByteBuffer(bytes: JSONWriter.bytes(body))
        )
    }

    /// The public error shape: `{"error": "<short message>", "detail": "<more>"}`.
    static func error(_ status: HTTPResponseStatus, _ message: String, detail: String? = nil) -> GatewayResponse {
        var members: [(key: String, value: JSONValue)] = [("error", .string(message))]
        if let detail { members.append(("detail", .string(detail))) }
        return make(status, .object(members))
    }
}
