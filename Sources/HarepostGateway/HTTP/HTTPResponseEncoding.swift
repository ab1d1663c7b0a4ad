import NIOCore
import NIOHTTP1

/// HTTP/1.x responses as bytes: head and body in one buffer, one write and
/// one iovec per response.
///
/// NIO's response encoder and header validator take a write per part through
/// two more pipeline handlers, a large share of the gateway's work per
/// lookup. The gateway writes only responses it built itself,
/// so it encodes them here; the header checks those handlers made are kept.
enum HTTPResponseEncoding {
    /// The answer to `Expect: 100-continue`.
    static func continueHead(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 25)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        return buffer
    }

    /// `response` on the wire: its status line and headers, then
    /// `content-length`, `server`, `date` and, when needed, `connection`
    /// (`close`, or `keep-alive` for HTTP/1.0), then the body. Headers named
    /// `content-length` or `connection` are left out (these are the
    /// encoder's), as is any header a client could not parse: a name that is
    /// not a token, a value with CR, LF or NUL. The answer to a HEAD request
    /// (`includeBody` false) has the GET's `content-length` and no body.
    static func encode(
        _ response: GatewayResponse,
        version: HTTPVersion,
        keepAlive: Bool,
        includeBody: Bool = true,
        date: String,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 192 + response.body.readableBytes)
        buffer.writeString("HTTP/\(version.major).\(version.minor) \(response.status.code) ")
        buffer.writeString(response.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in response.headers where isValid(name: name, value: value) {
            if name.utf8.count == 14, name.lowercased() == "content-length" { continue }
            if name.utf8.count == 10, name.lowercased() == "connection" { continue }
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("content-length: ")
        buffer.writeString(String(response.body.readableBytes))
        buffer.writeStaticString("\r\nserver: harepost\r\ndate: ")
        buffer.writeString(date)
        buffer.writeStaticString("\r\n")
        if !keepAlive {
            buffer.writeStaticString("connection: close\r\n")
        } else if version.major == 1 && version.minor == 0 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        if includeBody {
            var body = response.body
            buffer.writeBuffer(&body)
        }
        return buffer
    }

    /// RFC 9110: a name is a token; a value has no CR, LF or NUL.
    static func isValid(name: String, value: String) -> Bool {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return false }
        return !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
