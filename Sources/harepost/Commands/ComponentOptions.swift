import ArgumentParser
import HarepostRPC
import HarepostSupervisor
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// Options every harepost process takes.
struct ProcessOptions: ParsableArguments {
    @Option(help: "Directory holding the components' sockets (created 0700).")
    var runDir: String = "run"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Seconds to let in-flight work finish after SIGTERM before cancelling it.")
    var shutdownGraceSeconds: Int = 10

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// The default socket of `component` in the run directory.
    func socketPath(for component: String) -> String {
        Self.socketPath(for: component, in: runDir)
    }

    /// Where `component` serves in `runDirectory`: `<run-dir>/<component>.sock`.
    static func socketPath(for component: String, in runDirectory: String) -> String {
        "\(runDirectory)/\(component).sock"
    }

    /// An RPC client for `component` at `socket` (default: its socket in the run
    /// directory), logging with `logger` tagged by the backend's name.
    func makeClient(_ component: String, socket: String?, logger: Logger) -> RPCClient {
        RPCClient(
            configuration: clientConfiguration(component, socket: socket),
            logger: clientLogger(component, logger)
        )
    }

    /// Like ``makeClient(_:socket:logger:)``, with a connection per event loop.
    func makeClientGroup(_ component: String, socket: String?, logger: Logger) -> RPCClientGroup {
        RPCClientGroup(
            configuration: clientConfiguration(component, socket: socket),
            logger: clientLogger(component, logger)
        )
    }

    private func clientConfiguration(_ component: String, socket: String?) -> RPCClient.Configuration {
        .init(endpoint: .unixSocket(path: socket ?? socketPath(for: component)))
    }

    private func clientLogger(_ component: String, _ logger: Logger) -> Logger {
        var clientLogger = logger
        clientLogger[metadataKey: "rpc.backend"] = "\(component)"
        return clientLogger
    }

    /// What every component process sets up first: logs to standard error,
    /// metrics into its Prometheus registry, and NIO's event loops as the
    /// executor of Swift concurrency, so a task resumed by network I/O runs on
    /// the event loop that read it instead of hopping to another thread and
    /// back (those hops cost more than the work of a lookup). Blocking work
    /// stays off the event loops: SQLite
    /// writes and scans run on GRDB's queues, curl on its own thread.
    static func bootstrapComponent() {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        ProcessMetrics.bootstrap()
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    func makeLogger(component: String) -> Logger {
        var logger = Logger(label: "harepost.\(component)")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        logger[metadataKey: "component"] = "\(component)"
        return logger
    }

    /// Runs `services` until SIGTERM/SIGINT, then shuts them down gracefully
    /// (the last service first). Under `harepost up`, also when the supervisor dies.
    func run(_ services: [any Service], logger: Logger) async throws {
        try await run(services.map { .init(service: $0) }, logger: logger)
    }

    /// - Parameter shutdownBudget: how long graceful shutdown may take before the
    ///   rest is cancelled (default: `--shutdown-grace-seconds`).
    func run(
        _ services: [ServiceGroupConfiguration.ServiceConfiguration],
        logger: Logger,
        shutdownBudget: Duration? = nil
    ) async throws {
        var serviceConfigurations = services
        if let watch = SupervisorWatch(logger: logger) {
            serviceConfigurations.insert(
                .init(service: watch, successTerminationBehavior: .gracefullyShutdownGroup),
                at: 0
            )
        }
        var configuration = ServiceGroupConfiguration(
            services: serviceConfigurations,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = shutdownBudget ?? .seconds(shutdownGraceSeconds)
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// Options of the components that serve an RPC socket.
struct ComponentOptions: ParsableArguments {
    @Option(help: "Path of the component's Unix socket (default: <run-dir>/<component>.sock).")
    var socket: String?

    @OptionGroup var process: ProcessOptions
}

/// Runs one component's RPC server until SIGTERM/SIGINT, then drains it.
/// `makeRouter` runs after metrics are bootstrapped, so the service's metrics count.
func runComponent(
    _ component: String,
    options: ComponentOptions,
    refreshMetrics: @escaping @Sendable () async -> Void = {},
    background: [any Service] = [],
    makeRouter: () throws -> RPCRouter
) async throws {
    ProcessOptions.bootstrapComponent()
    var router = try makeRouter()
    try ProcessMetrics.register(on: &router, refresh: refreshMetrics)
    let logger = options.process.makeLogger(component: component)
    let path = options.socket ?? options.process.socketPath(for: component)
    try PrivateDirectory.prepare(forSocket: path)
    let server = RPCServer(
        configuration: .init(endpoint: .unixSocket(path: path), component: component),
        router: router,
        logger: logger
    )
    // Started before the server and stopped after it: the server's calls need them.
    try await options.process.run(background + [server], logger: logger)
}
