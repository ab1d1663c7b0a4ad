public import Foundation
import NIOSSL
public import PostgresNIO

/// Where a component's PostgreSQL is and how to reach it, from a
/// `postgres://user@host:port/database?sslmode=…` URL.
///
/// The password never comes from the URL (a command line is visible to every
/// user of the host and ends up in logs): it is read from a file or the
/// environment (``init(url:password:)``). The description shows the URL
/// without it.
public struct PostgresSettings: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, unverified (libpq's default).
        case prefer
        /// TLS, unverified.
        case require
        /// TLS, the server's certificate chains to `sslrootcert` (or the system's roots).
        case verifyCA = "verify-ca"
        /// As verify-ca, and the certificate names the host.
        case verifyFull = "verify-full"
    }

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    /// A host name or address, or a directory holding the server's Unix socket.
    public var host: String
    public var port: Int
    public var username: String
    public var database: String
    public var tls: TLSMode
    /// CA certificates (PEM) for verify-ca and verify-full.
    public var rootCertificatePath: String?
    /// The most connections this process opens.
    public var maximumConnections: Int
    var password: String?

    /// `url` is `postgres://user@host[:port]/database` with optional
    /// `sslmode` and `sslrootcert` query items; `host` may be given as a
    /// `host` query item instead, e.g. a socket directory (`?host=/run/postgresql`).
    public init(url: String, password: String?, maximumConnections: Int = 10) throws(InvalidURL) {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else { throw InvalidURL(description: "expected postgres://user@host:port/database, got \(Self.redacted(url))") }
        guard components.password == nil else {
            throw InvalidURL(
                description:
                    "the URL must not carry a password (it would show in process lists and logs): use --database-password-file or HAREPOST_DATABASE_PASSWORD"
            )
        }
        let items = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        for name in items.keys where !["sslmode", "sslrootcert", "host"].contains(name) {
            throw InvalidURL(description: "unknown URL parameter \(name) (known: sslmode, sslrootcert, host)")
        }
        guard let host = items["host"] ?? components.host, !host.isEmpty else {
            throw InvalidURL(description: "the URL names no host")
        }
        guard let username = components.user, !username.isEmpty else {
            throw InvalidURL(description: "the URL names no user (postgres://user@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw InvalidURL(description: "the URL names no database") }
        guard let tls = TLSMode(rawValue: items["sslmode"] ?? TLSMode.prefer.rawValue) else {
            throw InvalidURL(
                description: "sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard (1...1000).contains(maximumConnections) else {
            throw InvalidURL(description: "the pool size must be 1-1000")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = username
        self.database = database
        self.tls = host.hasPrefix("/") ? .disable : tls
        self.rootCertificatePath = items["sslrootcert"]
        self.maximumConnections = maximumConnections
        self.password = password
    }

    public var description: String {
        let host = self.host.hasPrefix("/") ? "localhost" : self.host
        let socket = self.host.hasPrefix("/") ? "&host=\(self.host)" : ""
        return "postgres://\(username)@\(host):\(port)/\(database)?sslmode=\(tls.rawValue)\(socket)"
    }

    /// `url` with any password replaced, for error messages.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "redacted"
        return components.string ?? "(unparseable URL)"
    }

    /// The password in `file` (its first line), else in `environment`'s
    /// `HAREPOST_DATABASE_PASSWORD`, else none (trust or peer authentication).
    public static func password(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> String?
    {
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        return environment["HAREPOST_DATABASE_PASSWORD"]
    }

    /// The client configuration postgres-nio takes.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if host.hasPrefix("/") {
            configuration = .init(
                unixSocketPath: "\(host)/.s.PGSQL.\(port)",
                username: username,
                password: password,
                database: database
            )
        } else {
            configuration = .init(
                host: host,
                port: port,
                username: username,
                password: password,
                database: database,
                tls: try clientTLS()
            )
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    private func clientTLS() throws -> PostgresClient.Configuration.TLS {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable:
            return .disable
        case .prefer, .require:
            tlsConfiguration.certificateVerification = .none
            return tls == .prefer ? .prefer(tlsConfiguration) : .require(tlsConfiguration)
        case .verifyCA, .verifyFull:
            tlsConfiguration.certificateVerification = tls == .verifyFull ? .fullVerification : .noHostnameVerification
            if let rootCertificatePath { tlsConfiguration.trustRoots = .file(rootCertificatePath) }
            return .require(tlsConfiguration)
        }
    }
}
