import ArgumentParser
import HarepostGateway
import HarepostRPC
import Logging
import NIOCore

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run the gateway, the public HTTP listener."
    )

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "HTTP port to listen on.")
    var port: Int = 8080

    @Option(help: "The auth component's socket (default: <run-dir>/auth.sock).")
    var authSocket: String?

    @Option(help: "The store component's socket (default: <run-dir>/store.sock).")
    var storeSocket: String?

    @Option(help: "The dispatcher's socket, asked for its metrics (default: <run-dir>/dispatcher.sock).")
    var dispatcherSocket: String?

    @Option(help: "A route map to serve instead of the built-in one (gateway-config/routes.json at build time).")
    var routes: String?

    @Option(help: "Largest request body accepted, in bytes (413 beyond).")
    var maxBodyBytes: Int = 1_114_112

    @Option(help: "Most open connections at once (503 for one over it).")
    var maxConnections: Int = GatewayHTTPLimits().maximumConnections

    @Option(help: "Most requests waiting for their answers on one connection (429 beyond).")
    var maxPipelinedRequests: Int = GatewayHTTPLimits().maximumPipelinedRequests

    @Option(help: "Seconds a kept-alive connection may wait for its next request.")
    var idleTimeoutSeconds: Int = 60

    @Option(help: "Seconds from a request's first byte to its complete head (408 beyond).")
    var headerTimeoutSeconds: Int = 10

    @Option(help: "Seconds from a request's head to its complete body (408 beyond).")
    var bodyTimeoutSeconds: Int = 30

    @Option(help: "Seconds answers may wait for a client that reads nothing before the connection closes.")
    var sendTimeoutSeconds: Int = 30

    @Option(help: "Deadline of each backend call, in milliseconds (504 when missed).")
    var backendTimeoutMs: Int = 10_000

    @Option(help: "Seconds an API key's account is reused before asking auth again (revocation delay).")
    var authCacheSeconds: Int = 5

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxPipelinedRequests > 0 else { throw ValidationError("--max-pipelined-requests must be positive") }
        for (name, seconds) in [
            ("idle", idleTimeoutSeconds), ("header", headerTimeoutSeconds), ("body", bodyTimeoutSeconds),
            ("send", sendTimeoutSeconds),
        ] where !(1...86400).contains(seconds) {
            throw ValidationError("--\(name)-timeout-seconds must be 1-86400")
        }
        guard backendTimeoutMs > 0 else { throw ValidationError("--backend-timeout-ms must be positive") }
        guard (0...3600).contains(authCacheSeconds) else {
            throw ValidationError("--auth-cache-seconds must be 0-3600")
        }
    }

    func run() async throws {
        ProcessOptions.bootstrapComponent()
        let logger = process.makeLogger(component: "gateway")
        let backends = GatewayBackends(
            auth: process.makeClient("auth", socket: authSocket, logger: logger),
            // Every lookup and send goes to the store: a connection per event
            // loop keeps each request on one thread (RPCClientGroup).
            store: process.makeClientGroup("store", socket: storeSocket, logger: logger),
            dispatcher: process.makeClient("dispatcher", socket: dispatcherSocket, logger: logger)
        )
        let routeMap: RouteMap
        do {
            routeMap =
                try routes.map { try RouteMap.load(path: $0, backends: backends.names) }
                ?? RouteMap.builtIn(backends: backends.names)
        } catch {
            throw ValidationError("invalid route map: \(error)")
        }
        let application = GatewayApplication.make(
            configuration: .init(
                host: host,
                port: port,
                http: GatewayHTTPLimits(
                    maximumBodyBytes: maxBodyBytes,
                    maximumConnections: maxConnections,
                    maximumPipelinedRequests: maxPipelinedRequests,
                    idleTimeout: .seconds(Int64(idleTimeoutSeconds)),
                    headerTimeout: .seconds(Int64(headerTimeoutSeconds)),
                    bodyTimeout: .seconds(Int64(bodyTimeoutSeconds)),
                    sendTimeout: .seconds(Int64(sendTimeoutSeconds))
                ),
                backendTimeout: .milliseconds(backendTimeoutMs),
                authenticationCacheTTL: .seconds(authCacheSeconds)
            ),
            routes: routeMap,
            backends: backends,
            metrics: ProcessMetrics.exposition,
            logger: logger
        )
        // The HTTP server is last, so it stops first and the clients outlive its requests.
        try await process.run(backends.clients + [application], logger: logger)
    }
}
