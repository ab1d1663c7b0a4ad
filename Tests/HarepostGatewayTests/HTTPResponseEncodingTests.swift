import NIOCore
import NIOHTTP1
import Testing

@testable import HarepostGateway

@Suite("HTTP response encoding")
struct HTTPResponseEncodingTests {
    func encode(_ response: GatewayResponse, version: HTTPVersion = .http1_1, keepAlive: Bool = true) -> String {
        let bytes = HTTPResponseEncoding.encode(
            response,
            version: version,
            keepAlive: keepAlive,
            date: "Mon, 23 Nov 2026 10:00:00 GMT",
            allocator: ByteBufferAllocator()
        )
        return String(buffer: bytes)
    }

    @Test func writesTheStatusLineHeadersAndBodyInOneBuffer() {
        let response = GatewayResponse(
            status: .accepted,
            headers: ["content-type": "application/json", "x-request-id": "req_1"],
            body: ByteBuffer(string: #"{"id":"hr_1"}"#)
        )
        #expect(
            encode(response)
                == "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nx-request-id: req_1\r\n"
                + "content-length: 13\r\nserver: harepost\r\ndate: Mon, 23 Nov 2026 10:00:00 GMT\r\n\r\n"
                + #"{"id":"hr_1"}"#
        )
    }

    @Test func saysHowTheConnectionContinues() {
        let empty = GatewayResponse(status: .noContent)
        #expect(encode(empty, keepAlive: false).hasSuffix("connection: close\r\n\r\n"))
        #expect(!encode(empty, keepAlive: true).contains("connection:"))
        let http10 = encode(empty, version: .http1_0, keepAlive: true)
        #expect(http10.hasPrefix("HTTP/1.0 204 No Content\r\n"))
        #expect(http10.hasSuffix("connection: keep-alive\r\n\r\n"))
    }

    /// The encoder owns framing headers, and a header a client could not
    /// parse (or that would split the response) is left out.
    @Test func leavesOutFramingAndUnparsableHeaders() {
        let response = GatewayResponse(
            status: .ok,
            headers: [
                "Content-Length": "999", "connection": "keep-alive", "x-injected": "a\r\nset-cookie: b",
                "bad name": "v", "x-nul": "a\u{0}b", "retry-after": "1",
            ],
            body: ByteBuffer(string: "ok")
        )
        let text = encode(response, keepAlive: false)
        #expect(
            text
                == "HTTP/1.1 200 OK\r\nretry-after: 1\r\ncontent-length: 2\r\nserver: harepost\r\n"
                + "date: Mon, 23 Nov 2026 10:00:00 GMT\r\nconnection: close\r\n\r\nok"
        )
    }
}
