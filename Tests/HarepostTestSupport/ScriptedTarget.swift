import Foundation
import Testing

/// A real HTTPS target (Fixtures/scripted_target.py, a child process) with a
/// CA and certificate made for the test by openssl. The certificate names
/// `localhost`, `rebind.test` and 127.0.0.1.
public struct ScriptedTarget: Sendable {
    public let directory: String
    public let port: Int
    let process: ChildProcessHandle

    public var caPath: String { "\(directory)/ca.pem" }

    public func url(_ path: String, host: String = "localhost") -> String { "https://\(host):\(port)\(path)" }

    public struct Request: Sendable {
        public let method: String
        public let path: String
        public let headers: [(String, String)]
        public let body: [UInt8]
        public let at: Double
        /// The client's port: equal for requests on one (kept-alive) connection.
        public let peerPort: Int

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// Requests received so far for `path`, in order.
    public func requests(_ path: String) throws -> [Request] {
        let text = (try? String(contentsOfFile: "\(directory)/requests.jsonl", encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").compactMap { line -> Request? in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["path"] as? String == path
            else { return nil }
            let headers = (object["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            return Request(
                method: object["method"] as? String ?? "",
                path: path,
                headers: headers,
                body: Array(Data(base64Encoded: object["body"] as? String ?? "") ?? Data()),
                at: object["at"] as? Double ?? 0,
                peerPort: object["peer"] as? Int ?? 0
            )
        }
    }

    public static func withTarget<T: Sendable>(_ body: @Sendable (ScriptedTarget) async throws -> T) async throws -> T {
        let directory = try makeTemporaryDirectory("hp-target")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeCertificates(in: directory)
        let script = try #require(TestFixtures.url("scripted_target", extension: "py")).path
        let process = try ChildProcessHandle.start(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", script, "\(directory)/leaf.pem", "\(directory)/leaf.key", "\(directory)/requests.jsonl",
                "\(directory)/port",
            ]
        )
        defer { process.terminate() }
        var port: Int?
        for _ in 0..<500 where port == nil {
            port = (try? String(contentsOfFile: "\(directory)/port", encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let target = ScriptedTarget(directory: directory, port: try #require(port), process: process)
        return try await body(target)
    }

    private static func makeCertificates(in directory: String) async throws {
        let extensions = """
            subjectAltName=DNS:localhost,DNS:rebind.test,IP:127.0.0.1
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=serverAuth
            """
        try extensions.write(toFile: "\(directory)/leaf.ext", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["openssl", "req", "-x509"] + ec + [
                "-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem", "-days", "2",
                "-subj", "/CN=harepost test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            ["openssl", "req"] + ec + [
                "-keyout", "\(directory)/leaf.key", "-out", "\(directory)/leaf.csr", "-subj", "/CN=localhost",
            ],
            [
                "openssl", "x509", "-req", "-in", "\(directory)/leaf.csr", "-CA", "\(directory)/ca.pem",
                "-CAkey", "\(directory)/ca.key", "-CAcreateserial", "-out", "\(directory)/leaf.pem", "-days", "2",
                "-extfile", "\(directory)/leaf.ext",
            ],
        ]
        for step in steps {
            let result = try await runTool(step)
            try #require(result.status == 0, "\(step.joined(separator: " ")): \(result.errors)")
        }
    }
}
