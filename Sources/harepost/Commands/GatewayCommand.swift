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

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = process.makeLogger(component: "gateway")
        func client(_ component: String, _ socket: String?) -> RPCClient {
            var clientLogger = logger
            clientLogger[metadataKey: "rpc.backend"] = "\(component)"
            let path = socket ?? process.socketPath(for: component)
            return RPCClient(configuration: .init(endpoint: .unixSocket(path: path)), logger: clientLogger)
        }
        let backends = GatewayBackends(auth: client("auth", authSocket), store: client("store", storeSocket))
        let application = GatewayApplication.make(
            configuration: .init(host: host, port: port),
            backends: backends,
            logger: logger
        )
        // The HTTP server is last, so it stops first and the clients outlive its requests.
        try await process.run([backends.auth, backends.store, application], logger: logger)
    }
}
