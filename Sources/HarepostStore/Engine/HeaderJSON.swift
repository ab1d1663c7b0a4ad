import HarepostJSON

/// Header maps as JSON objects (keys sorted): how the store keeps a delivery's
/// headers and renders the hookstream `request_headers`/`response_headers` strings.
enum HeaderJSON {
    static func encode(_ headers: [String: String]) -> String {
        JSONWriter.string(.object(headers.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
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
