import ArgumentParser
import Foundation
import HarepostCurl
import HarepostRPC
import HarepostSupervisor
import Logging
import ServiceLifecycle

/// `harepost up`: the four components as separate child processes on the
/// embedded default (SQLite in the data directory, sockets in the run
/// directory), or with store and auth on one PostgreSQL (`--database`).
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run auth, store, dispatcher and gateway as child processes; restart any that dies.",
        discussion: """
            Waits until every component is healthy, prints the gateway's URL, and stops \
            them all (gateway first) on SIGINT or SIGTERM. With --dev it also creates a \
            dev account, prints its API key, and allows http:// and loopback targets: \
            never use --dev in production.
            """
    )

    @Option(help: "Directory for the databases (auth.sqlite, store.sqlite) and the dev account.")
    var dataDir: String = "data"

    @Option(help: "Address the gateway listens on.")
    var host: String = "127.0.0.1"

    @Option(help: "The gateway's HTTP port.")
    var port: Int = 8080

    @Option(help: "A route map for the gateway instead of the built-in one.")
    var routes: String?

    @Flag(
        help: """
            Development mode, UNSAFE for production: creates a dev account and prints its key; \
            accepts http:// targets, loopback/private addresses and unverified domains.
            """
    )
    var dev = false

    @Option(help: "PEM file of CA certificates the dispatcher trusts instead of the system's.")
    var caBundle: String?

    @Option(help: "Deliveries the dispatcher attempts at once.")
    var maxInFlight: Int = 64

    @Option(help: "Passed to the store: seconds past an attempt's timeout before an unrecorded lease is re-offered.")
    var leaseMarginSeconds: Int = 30

    @Option(help: "Seconds to wait for every component to become healthy before giving up.")
    var startupTimeoutSeconds: Int = 30

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        _ = try database.settings()
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1-65535") }
        guard (1...10_000).contains(maxInFlight) else { throw ValidationError("--max-in-flight must be 1-10000") }
        guard startupTimeoutSeconds > 0 else { throw ValidationError("--startup-timeout-seconds must be positive") }
        guard (1...3600).contains(leaseMarginSeconds) else {
            throw ValidationError("--lease-margin-seconds must be 1-3600")
        }
        if let routes, !FileManager.default.isReadableFile(atPath: routes) {
            throw ValidationError("cannot read the route map \(routes)")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = process.makeLogger(component: "up")
        let dataDirectory = Self.absolute(dataDir)
        let runDirectory = Self.absolute(process.runDir)
        try PrivateDirectory.prepare(dataDirectory)
        try PrivateDirectory.prepare(runDirectory)
        let lock: RunDirectoryLock
        do {
            lock = try RunDirectoryLock(runDirectory)
        } catch {
            throw ValidationError("\(error)")
        }
        defer { lock.release() }

        let layout = UpLayout(
            executable: Self.executablePath(),
            dataDirectory: dataDirectory,
            runDirectory: runDirectory,
            routes: routes.map(Self.absolute),
            options: self
        )
        if dev {
            logger.warning(
                "DEV MODE: http:// and loopback targets and unverified domains are accepted; never use it in production"
            )
        }
        let supervisor = Supervisor(
            programs: layout.programs,
            configuration: .init(
                stopTimeout: .seconds(process.shutdownGraceSeconds + 5),
                pidDirectory: runDirectory
            ),
            logger: logger
        )
        let auth = process.makeClient("auth", socket: layout.socket("auth"), logger: logger)
        let dispatcher = process.makeClient("dispatcher", socket: layout.socket("dispatcher"), logger: logger)
        let http = CurlHTTPClient(
            configuration: .init(allowInternalAddresses: true, maximumResponseBodyBytes: 64 << 10),
            logger: logger
        )
        let announcer = UpAnnouncer(
            layout: layout,
            dev: dev,
            startupTimeout: .seconds(startupTimeoutSeconds),
            auth: auth,
            dispatcher: dispatcher,
            http: http,
            logger: logger
        )
        // Stopping runs last to first: the announcer, the children (gateway
        // first), then the clients the announcer used.
        try await process.run(
            ([http, auth, dispatcher, supervisor] as [any Service]).map { .init(service: $0) }
                + [.init(service: announcer, successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: logger,
            // Stopping the components one at a time may take each its whole grace.
            shutdownBudget: supervisor.maximumStopDuration + .seconds(5)
        )
        if announcer.failed { throw ExitCode(1) }
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL.path
    }

    /// This binary, which the children run with a component subcommand.
    static func executablePath() -> String {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? absolute(CommandLine.arguments[0])
    }
}

/// Where `harepost up` puts things, and the command line of each component.
struct UpLayout: Sendable {
    let executable: String
    let dataDirectory: String
    let runDirectory: String
    /// A route map file for the gateway; nil for the built-in one.
    let routes: String?
    let host: String
    let port: Int
    let programs: [SupervisedProgram]

    init(executable: String, dataDirectory: String, runDirectory: String, routes: String?, options: UpCommand) {
        self.executable = executable
        self.dataDirectory = dataDirectory
        self.runDirectory = runDirectory
        self.routes = routes
        self.host = options.host
        self.port = options.port
        let socket = { (component: String) in ProcessOptions.socketPath(for: component, in: runDirectory) }
        let common = [
            "--log-level", options.process.logLevel,
            "--shutdown-grace-seconds", "\(options.process.shutdownGraceSeconds)",
            "--run-dir", runDirectory,
        ]
        let unsafeStore = options.dev ? ["--allow-http", "--allow-private-targets", "--trust-all-domains"] : []
        let unsafeDispatcher = options.dev ? ["--allow-private-targets"] : []
        let caBundle = options.caBundle.map { ["--ca-bundle", UpCommand.absolute($0)] } ?? []
        // Store and auth on one PostgreSQL when given: the URL (no password
        // in it) and the password file's path, never the password itself.
        var database: [String] = []
        if let url = options.database.database {
            database += ["--database", url]
        }
        if let file = options.database.databasePasswordFile {
            database += ["--database-password-file", UpCommand.absolute(file)]
        }
        database += ["--database-pool-size", "\(options.database.databasePoolSize)"]
        // Started in this order; stopped in reverse (gateway first).
        programs = [
            SupervisedProgram(
                name: "auth",
                executable: executable,
                arguments: ["auth", "--socket", socket("auth"), "--data-dir", dataDirectory] + database + common
            ),
            SupervisedProgram(
                name: "store",
                executable: executable,
                arguments: [
                    "store", "--socket", socket("store"), "--data-dir", dataDirectory,
                    "--lease-margin-seconds", "\(options.leaseMarginSeconds)",
                ] + database + unsafeStore + common
            ),
            SupervisedProgram(
                name: "dispatcher",
                executable: executable,
                arguments: [
                    "dispatcher", "--socket", socket("dispatcher"),
                    "--store-socket", socket("store"), "--auth-socket", socket("auth"),
                    "--max-in-flight", "\(options.maxInFlight)",
                ] + caBundle + unsafeDispatcher + common
            ),
            SupervisedProgram(
                name: "gateway",
                executable: executable,
                arguments: [
                    "gateway", "--host", options.host, "--port", "\(options.port)",
                    "--auth-socket", socket("auth"), "--store-socket", socket("store"),
                    "--dispatcher-socket", socket("dispatcher"),
                ] + (routes.map { ["--routes", $0] } ?? []) + common
            ),
        ]
    }

    func socket(_ component: String) -> String { ProcessOptions.socketPath(for: component, in: runDirectory) }

    /// The gateway's public URL.
    var gatewayURL: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "http://\(shown):\(port)"
    }

    /// Where this machine reaches the gateway (a wildcard address is reached on loopback).
    var localGatewayURL: String {
        switch host {
        case "0.0.0.0": "http://127.0.0.1:\(port)"
        case "::": "http://[::1]:\(port)"
        default: gatewayURL
        }
    }
}

/// An exclusive lock on `<run-dir>/up.lock`, held while `harepost up` runs, so
/// two supervisors never run the same components. The kernel drops it when
/// the process dies, however it dies.
struct RunDirectoryLock {
    struct LockedError: Error, CustomStringConvertible {
        let description: String
    }

    private let descriptor: Int32

    init(_ runDirectory: String) throws {
        let path = "\(runDirectory)/up.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LockedError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw LockedError(description: "another `harepost up` is running with the run directory \(runDirectory)")
        }
    }

    func release() {
        close(descriptor)
    }
}
