import ArgumentParser
import Foundation
import HarepostCurl
import HarepostJSON
import Logging

/// How the operator commands that use the public REST API (`send`,
/// `deliveries`, `attempts`) reach the gateway and authenticate.
struct PublicAPIOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: "The gateway's URL (default: $HAREPOST_URL, else http://127.0.0.1:8080).")
    var gatewayURL: String?

    @Option(
        help: """
            API key (default: $HAREPOST_API_KEY, else the dev account that `harepost up --dev` \
            saved in --data-dir).
            """
    )
    var apiKey: String?

    @Option(help: "Where `harepost up --dev` saved the dev account.")
    var dataDir: String = "data"

    @Flag(help: "Print the API's JSON response as is (for scripts).")
    var json = false

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 10

    var baseURL: String {
        let url = gatewayURL ?? ProcessInfo.processInfo.environment["HAREPOST_URL"] ?? "http://127.0.0.1:8080"
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    func resolvedAPIKey() throws -> String {
        if let apiKey { return apiKey }
        if let key = ProcessInfo.processInfo.environment["HAREPOST_API_KEY"], !key.isEmpty { return key }
        if let account = DevAccount.load(dataDirectory: dataDir) { return account.apiKey }
        throw ValidationError(
            "no API key: pass --api-key or set HAREPOST_API_KEY (`harepost up --dev` saves one in \(dataDir)/\(DevAccount.fileName))"
        )
    }

    /// Calls the public API; the parsed JSON body of a 2xx answer. Any other
    /// answer prints the API's error and exits 1 (69 when the gateway is unreachable).
    func call(
        _ method: String,
        _ path: String,
        query: [(String, String?)] = [],
        body: JSONValue? = nil
    ) async throws -> (json: JSONValue, raw: [UInt8]) {
        let key = try resolvedAPIKey()
        var url = baseURL + path
        let pairs = query.compactMap { name, value in value.map { "\(name)=\(Self.percentEncoded($0))" } }
        if !pairs.isEmpty { url += "?" + pairs.joined(separator: "&") }
        var headers = [(name: "Authorization", value: "Bearer \(key)"), (name: "Accept", value: "application/json")]
        if body != nil { headers.append((name: "Content-Type", value: "application/json")) }
        let request = OutboundRequest(
            url: url,
            method: method,
            headers: headers,
            body: body.map(JSONWriter.bytes) ?? [],
            timeoutMilliseconds: Int64(timeout * 1000)
        )
        var logger = Logger(label: "harepost.cli")
        logger.logLevel = .critical
        let http = CurlHTTPClient(
            configuration: .init(allowInternalAddresses: true, maximumResponseBodyBytes: 64 << 20),
            logger: logger
        )
        let result = await whileRunning(http) { await http.execute(request) }
        guard case .response(let status) = result.outcome else {
            printError("error: cannot reach the gateway at \(baseURL): \(result.error ?? "\(result.outcome)")")
            throw ExitCode(69)
        }
        let parsed = try? JSONParser.parse(result.responseBody)
        guard (200..<300).contains(status), let parsed else {
            var message = "error: HTTP \(status)"
            if case .string(let error)? = parsed?["error"] { message += ": \(error)" }
            if case .string(let detail)? = parsed?["detail"] { message += " (\(detail))" }
            printError(message)
            throw ExitCode(1)
        }
        return (parsed, result.responseBody)
    }

    /// Prints the raw JSON answer, or `human()` for people.
    func output(_ answer: (json: JSONValue, raw: [UInt8]), human: () -> String) {
        print(json ? String(decoding: answer.raw, as: UTF8.self) : human())
    }

    static func percentEncoded(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

extension JSONValue {
    /// The value as a table cell: strings bare, numbers as written, null as `-`.
    var cellText: String {
        switch self {
        case .null: "-"
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): value
        case .array, .object: JSONWriter.string(self)
        }
    }
}

extension Optional where Wrapped == JSONValue {
    var cellText: String { self?.cellText ?? "-" }
}
