import Foundation
import HarepostContracts
import HarepostCurl
import HarepostJSON
import HarepostProto
import HarepostRPC

/// Turns a `SendRequest` into a delivery to store, or a precise INVALID_ARGUMENT.
struct SendValidation {
    static let allowedMethods = ["POST", "PUT", "PATCH", "DELETE", "GET"]
    static let maximumBodyBytes = 1 << 20
    static let maximumTargetLength = 2048
    static let maximumIdempotencyKeyLength = 255
    /// Hop-by-hop headers and ones carrying credentials or set by the transport;
    /// the client's others are forwarded as given.
    static let strippedHeaders: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "host", "content-length", "expect",
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
    ]

    /// The documented ranges; out-of-range values are clamped, never rejected.
    static func resolvePolicy(_ policy: StoreV1.DeliveryPolicy?) -> DeliveryPolicy {
        func clamped(_ value: Int64?, _ fallback: Int64, _ range: ClosedRange<Int64>) -> Int64 {
            min(max(value ?? fallback, range.lowerBound), range.upperBound)
        }
        // An unspecified or unknown enum value is the default, as an absent one is.
        let backoff: StoreV1.Backoff? = policy?.backoff == .fixed ? .fixed : nil
        let jitter: StoreV1.Jitter? = policy?.jitter == StoreV1.Jitter.none ? StoreV1.Jitter.none : nil
        return DeliveryPolicy(
            maxAttempts: clamped(policy?.maxAttempts, 5, 1...25),
            backoff: backoff ?? .exponential,
            baseDelayMilliseconds: clamped(policy?.baseDelayMs, 1000, 100...60_000),
            maxDelayMilliseconds: clamped(policy?.maxDelayMs, 3_600_000, 1000...43_200_000),
            jitter: jitter ?? .full,
            timeoutMilliseconds: clamped(policy?.timeoutMs, 10_000, 1000...30_000),
            respectRetryAfter: policy?.respectRetryAfter ?? true
        )
    }

    struct Target: Sendable {
        let url: String
        let host: String
        let origin: String
    }

    /// Targets checked and parsed, by their text: senders repeat a few
    /// targets, and parsing one is a noticeable part of a send's cost. Only
    /// accepted targets are kept, and
    /// only short ones (a bound on memory with the capacity).
    private static let parsedTargets = BoundedCache<TargetKey, Target>(capacity: 1024)
    private static let maximumCachedTargetLength = 512

    private struct TargetKey: Hashable, Sendable {
        let text: String
        let allowHTTP: Bool
    }

    static func target(_ text: String, allowHTTP: Bool) throws(RPCError) -> Target {
        let key = TargetKey(text: text, allowHTTP: allowHTTP)
        if let known = parsedTargets[key] { return known }
        let target = try parseTarget(text, allowHTTP: allowHTTP)
        if text.utf8.count <= maximumCachedTargetLength { parsedTargets.insert(target, for: key) }
        return target
    }

    private static func parseTarget(_ text: String, allowHTTP: Bool) throws(RPCError) -> Target {
        guard !text.isEmpty else { throw .invalidArgument("target is required") }
        guard text.utf8.count <= maximumTargetLength else {
            throw .invalidArgument("target must be at most \(maximumTargetLength) bytes")
        }
        // The dispatcher's parser (libcurl's), so every accepted target is
        // one a delivery can be made to.
        let url: TargetURL
        do {
            url = try TargetURL.parse(text)
        } catch {
            throw .invalidArgument("target is not a valid URL: \(error)")
        }
        guard url.scheme == "https" || (url.scheme == "http" && allowHTTP) else {
            throw .invalidArgument(allowHTTP ? "target must use https or http" : "target must use https")
        }
        guard !url.hasCredentials else { throw .invalidArgument("target must not carry credentials") }
        return Target(url: text, host: url.host, origin: url.origin)
    }

    static func method(_ request: StoreV1.SendRequest) throws(RPCError) -> String {
        guard let requested = request.method else { return "POST" }
        let method = requested.uppercased()
        guard allowedMethods.contains(method) else {
            throw .invalidArgument("method must be one of \(allowedMethods.joined(separator: ", "))")
        }
        return method
    }

    /// The headers to forward and the body bytes: a string body is sent as-is;
    /// any other JSON value is JSON-encoded with `Content-Type: application/json`
    /// unless the client named a content type. GET sends no body.
    static func headersAndBody(_ request: StoreV1.SendRequest, method: String) throws(RPCError) -> (
        [String: String], [UInt8]
    ) {
        var headers: [String: String] = [:]
        var seen: [String: String] = [:]
        for (name, value) in request.headers {
            let lower = name.lowercased()
            // Header names are case-insensitive: "X-A" and "x-a" are one
            // header, and which value would win is not the client's to guess.
            if let other = seen.updateValue(name, forKey: lower) {
                let pair = [other, name].sorted()
                throw .invalidArgument("headers: \"\(pair[0])\" and \"\(pair[1])\" name the same header")
            }
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                throw .invalidArgument("headers: \"\(name)\" is not a valid header name")
            }
            guard !value.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else {
                throw .invalidArgument("headers.\(name): value must not contain CR, LF or NUL")
            }
            if strippedHeaders.contains(lower) || lower.hasPrefix("proxy-") { continue }
            headers[name] = value
        }
        guard method != "GET", let body = request.body else { return (headers, []) }
        let bytes: [UInt8]
        if let text = body.stringValue {
            bytes = Array(text.utf8)
        } else {
            bytes = ProtoJSON.encodeBytes(body.protoMessage)
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
                headers["Content-Type"] = "application/json"
            }
        }
        guard bytes.count <= maximumBodyBytes else {
            throw .invalidArgument("body must be at most \(maximumBodyBytes) bytes")
        }
        return (headers, bytes)
    }

    /// RFC 9110's `tchar`: a header name is a token.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func idempotencyKey(_ request: StoreV1.SendRequest) throws(RPCError) -> String? {
        guard let key = request.idempotencyKey else { return nil }
        guard !key.isEmpty, key.utf8.count <= maximumIdempotencyKeyLength else {
            throw .invalidArgument("idempotency_key must be 1 to \(maximumIdempotencyKeyLength) bytes of UTF-8")
        }
        // SQLite's text binding (through GRDB) ends a string at U+0000, which
        // would make "K\u{0}A" and "K\u{0}B" one key.
        guard !key.utf8.contains(0) else { throw .invalidArgument("idempotency_key must not contain U+0000") }
        return key
    }
}
