import Foundation
import HTTPTypes
import HarepostAuth
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostStore
import HarepostTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import HarepostGateway

/// The real gateway (live HTTP on a free port) in front of real auth and store
/// RPC services (SQLite in a temp dir), with one account and its API key.
struct GatewayHarness: Sendable {
    let client: TestClient
    /// The gateway's port, for tests that speak raw HTTP (``RawHTTP``).
    let port: Int
    let auth: RPCClient
    let store: RPCClient
    let accountID: String
    let apiKey: String
    let signingSecret: String
    let storeDirectory: String

    /// The route map in this checkout.
    static let routesPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../gateway-config/routes.json").standardized.path

    static var quietLogger: Logger {
        var logger = Logger(label: "harepost.gateway.tests")
        logger.logLevel = .critical
        return logger
    }

    static func with<T: Sendable>(
        openSignup: Bool = false,
        configuration: GatewayApplication.Configuration = .init(port: 0),
        metrics: (@Sendable () -> String)? = nil,
        authDirectory: String? = nil,
        storeDirectory: String? = nil,
        _ body: @Sendable (GatewayHarness) async throws -> T
    ) async throws -> T {
        try await withRPCService(component: "auth", directory: authDirectory) { directory in
            try AuthService(
                sqlitePath: "\(directory)/auth.sqlite",
                configuration: .init(openSignup: openSignup)
            ).router()
        } _: { _, auth in
            let account = try await auth.call(
                "harepost.auth.v1.Auth/CreateAccount",
                try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string("Gateway tests")])
            )
            return try await withRPCService(component: "store", directory: storeDirectory) { directory in
                try StoreService(
                    sqlitePath: "\(directory)/store.sqlite",
                    configuration: .init(allowPrivateTargets: true, trustAllDomains: true)
                ).router()
            } _: { storeDirectory, store in
                let server = GatewayApplication.make(
                    configuration: configuration,
                    routes: try RouteMap.load(path: routesPath, backends: ["auth", "store"]),
                    backends: GatewayBackends(auth: auth, store: store),
                    metrics: metrics,
                    logger: quietLogger
                )
                return try await serve(server) { client, port in
                    try await body(
                        GatewayHarness(
                            client: client,
                            port: port,
                            auth: auth,
                            store: store,
                            accountID: account.string("id") ?? "",
                            apiKey: account.string("api_key") ?? "",
                            signingSecret: account.string("signing_secret") ?? "",
                            storeDirectory: storeDirectory
                        )
                    )
                }
            }
        }
    }

    /// Runs `server` (on a free port) around `body`, which gets an HTTP
    /// client connected to it and the port; then stops the server.
    static func serve<T: Sendable>(
        _ server: GatewayHTTPServer,
        _ body: @Sendable (TestClient, Int) async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.run()
                return nil
            }
            let port = await server.waitUntilListening()
            let client = TestClient(host: "127.0.0.1", port: port)
            client.connect()
            defer { group.cancelAll() }
            do {
                let value = try await body(client, port)
                try await client.shutdown()
                return value
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
    }

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let bytes: [UInt8]
        var json: JSONValue { (try? JSONParser.parse(bytes)) ?? .null }
        var text: String { String(decoding: bytes, as: UTF8.self) }
        func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
    }

    enum Credential {
        case account
        case key(String?)
        case anonymous
    }

    /// Makes a request with this account's key (unless `key` says otherwise).
    func request(
        _ method: HTTPRequest.Method,
        _ uri: String,
        json: String? = nil,
        as credential: Credential = .account,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        switch credential {
        case .account: headers[.authorization] = "Bearer \(apiKey)"
        case .key(let given): headers[.authorization] = "Bearer \(given ?? "")"
        case .anonymous: break
        }
        if json != nil { headers[.contentType] = "application/json" }
        let response = try await client.executeRequest(
            uri: uri,
            method: method,
            headers: headers,
            body: json.map { ByteBuffer(string: $0) }
        )
        return Reply(
            status: Int(response.status.code),
            headers: response.headers,
            bytes: response.body.map { Array(buffer: $0) } ?? []
        )
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    var keys: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map(\.key)
    }
}

extension TestClient {
    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?)
        async throws -> TestClient.Response
    {
        try await execute(TestClient.Request(uri, method: method, headers: headers, body: body))
    }
}
