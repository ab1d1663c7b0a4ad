import ArgumentParser
import HarepostRPC
import Logging
import ServiceLifecycle
import UnixSignals

/// Options every component process takes.
struct ComponentOptions: ParsableArguments {
    @Option(help: "Path of the component's Unix socket.")
    var socket: String?

    @Option(help: "Directory for sockets when --socket is not given.")
    var runDir: String = "run"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Seconds to let in-flight calls finish after SIGTERM before cancelling them.")
    var shutdownGraceSeconds: Int = 10

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func socketPath(for component: String) -> String {
        socket ?? "\(runDir)/\(component).sock"
    }

    func makeLogger(component: String) -> Logger {
        var logger = Logger(label: "harepost.\(component)")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        logger[metadataKey: "component"] = "\(component)"
        return logger
    }
}

/// Runs one component's RPC server until SIGTERM/SIGINT, then drains it.
func runComponent(_ component: String, router: RPCRouter, options: ComponentOptions) async throws {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    let logger = options.makeLogger(component: component)
    let path = options.socketPath(for: component)
    try RunDirectory.prepare(forSocket: path)
    let server = RPCServer(
        configuration: .init(endpoint: .unixSocket(path: path), component: component),
        router: router,
        logger: logger
    )
    var configuration = ServiceGroupConfiguration(
        services: [server],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
    configuration.maximumGracefulShutdownDuration = .seconds(options.shutdownGraceSeconds)
    try await ServiceGroup(configuration: configuration).run()
}
