import HarepostJSON

/// Header maps as JSON objects (keys sorted): how the store keeps a delivery's
/// headers and renders the hookstream `request_headers`/`response_headers` strings.
enum HeaderJSON {
    /// Written straight to bytes: every send encodes its headers on the
    /// store's event loop, and a `JSONValue` tree for them would cost half as
    /// much again as the writing.
    static func encode(_ headers: [String: String]) -> String {
        var output: [UInt8] = [UInt8(ascii: "{")]
        output.reserveCapacity(64)
        for (index, header) in headers.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(header.key, to: &output)
            output.append(UInt8(ascii: ":"))
            JSONWriter.writeString(header.value, to: &output)
        }
        output.append(UInt8(ascii: "}"))
        return String(decoding: output, as: UTF8.self)
    }

    static func decode(_ text: String) -> [String: String] {
        guard case .object(let members)? = try? JSONParser.parse(text) else { return [:] }
        var headers: [String: String] = [:]
        for (name, value) in members {
            if case .string(let text) = value { headers[name] = text }
        }
        return headers
    }
}
