import ArgumentParser
import HarepostGateway
import HarepostRPC
import Logging

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

    @Option(help: "The route map: each public route and the RPC it calls.")
    var routes: String = "gateway-config/routes.json"

    @Option(help: "Largest request body accepted, in bytes (413 beyond).")
    var maxBodyBytes: Int = 1_114_112

    @Option(help: "Deadline of each backend call, in milliseconds (504 when missed).")
    var backendTimeoutMs: Int = 10_000

    @Option(help: "Seconds an API key's account is reused before asking auth again (revocation delay).")
    var authCacheSeconds: Int = 5

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive") }
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
            routeMap = try RouteMap.load(path: routes, backends: backends.names)
        } catch {
            throw ValidationError("invalid route map: \(error)")
        }
        let application = GatewayApplication.make(
            configuration: .init(
                host: host,
                port: port,
                maximumBodyBytes: maxBodyBytes,
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
