internal import CCurl

/// A webhook target as libcurl reads it: the store checks every target with
/// this, the parser the dispatcher's transfers use, so a URL it accepts is
/// one curl can send to (and one curl would refuse is refused at send time,
/// not dead-lettered later).
public struct TargetURL: Sendable, Equatable {
    /// Lowercased, e.g. `https`.
    public let scheme: String
    /// Lowercased; an IPv6 literal without its brackets.
    public let host: String
    /// The port when the URL names one.
    public let port: Int?
    /// Whether the URL carries a user name or password.
    public let hasCredentials: Bool

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        /// libcurl's reason, e.g. `Port number was not a decimal number between 0 and 65535`.
        public let description: String
    }

    /// `scheme://host[:port]`, the host in brackets when it is IPv6.
    public var origin: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(shownHost)\(port.map { ":\($0)" } ?? "")"
    }

    /// Parses `text` with libcurl's URL API (`curl_url_set`, no scheme
    /// guessing): control characters, spaces, a bad port or host, and any
    /// byte U+0000 (which a C string cannot carry) are refused.
    public static func parse(_ text: String) throws(ParseError) -> TargetURL {
        guard !text.utf8.contains(0) else { throw ParseError(description: "URL contains U+0000") }
        guard let handle = curl_url() else { throw ParseError(description: "out of memory") }
        defer { curl_url_cleanup(handle) }
        let set = curl_url_set(handle, CURLUPART_URL, text, 0)
        guard set == CURLUE_OK else { throw ParseError(description: String(cString: curl_url_strerror(set))) }
        func part(_ which: CURLUPart) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, which, &value, 0) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased(), var host = part(CURLUPART_HOST)?.lowercased(),
            !host.isEmpty
        else {
            throw ParseError(description: "no scheme or host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return TargetURL(
            scheme: scheme,
            host: host,
            port: part(CURLUPART_PORT).flatMap { Int($0) },
            hasCredentials: part(CURLUPART_USER) != nil || part(CURLUPART_PASSWORD) != nil
        )
    }
}
