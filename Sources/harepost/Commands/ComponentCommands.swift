import ArgumentParser
import Foundation
import HarepostAuth
import HarepostCurl
import HarepostDispatcher
import HarepostPostgres
import HarepostRPC
import HarepostStore
import Logging

// The component processes. Each serves its RPC contract from proto/ on its own
// Unix socket; a method the process has no handler for answers UNIMPLEMENTED.

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Run the auth component (accounts, API keys, signing secrets)."
    )

    @OptionGroup var options: ComponentOptions

    @Option(help: "Directory for the component's database (auth.sqlite).")
    var dataDir: String = "data"

    @Flag(help: "Allow POST /v1/accounts (open sign-up through the gateway). Off by default.")
    var openSignup = false

    @Option(help: "Requests per minute for new accounts; 0 means unlimited.")
    var defaultRateLimit: Int = 6000

    @Option(help: "Seconds a rotated-out signing secret stays valid.")
    var signingSecretOverlapSeconds: Int64 = 86_400

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        _ = try database.settings()
        guard (0...AuthService.maximumRateLimitPerMinute).contains(defaultRateLimit) else {
            throw ValidationError("--default-rate-limit must be between 0 and \(AuthService.maximumRateLimitPerMinute)")
        }
        guard (0...AuthService.maximumOverlapSeconds).contains(signingSecretOverlapSeconds) else {
            throw ValidationError(
                "--signing-secret-overlap-seconds must be between 0 and \(AuthService.maximumOverlapSeconds)"
            )
        }
    }

    func run() async throws {
        let configuration = AuthService.Configuration(
            defaultRateLimitPerMinute: defaultRateLimit,
            signingSecretOverlapSeconds: signingSecretOverlapSeconds,
            openSignup: openSignup
        )
        let service: AuthService
        if let backend = try database.backend(
            component: "auth",
            migrations: AuthService.postgresMigrations,
            logger: options.process.makeLogger(component: "auth")
        ) {
            service = AuthService(postgres: backend, configuration: configuration, logger: backend.logger)
        } else {
            try PrivateDirectory.prepare(dataDir)
            service = try AuthService(sqlitePath: "\(dataDir)/auth.sqlite", configuration: configuration)
        }
        try await runComponent("auth", options: options, background: service.backgroundServices) {
            try service.router()
        }
    }
}

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Run the store component (domains, deliveries, attempts, the due-work queue)."
    )

    @OptionGroup var options: ComponentOptions

    @Option(help: "Directory for the component's database (store.sqlite).")
    var dataDir: String = "data"

    @Flag(help: "Accept http:// targets. Unsafe outside development.")
    var allowHTTP = false

    @Flag(
        help:
            "Accept targets that are or resolve to private, loopback or link-local addresses. Unsafe outside development."
    )
    var allowPrivateTargets = false

    @Flag(help: "Deliver to any domain without verification. Unsafe outside development.")
    var trustAllDomains = false

    @Option(
        help: ArgumentHelp(
            "DNS server asked for domain-verification TXT records (default: first nameserver of /etc/resolv.conf).",
            valueName: "host[:port]"
        )
    )
    var dnsResolver: String?

    @Option(help: "Seconds past an attempt's timeout before its unrecorded lease is offered again (1-3600).")
    var leaseMarginSeconds: Int = 30

    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let dnsResolver, DNSTXTResolver(address: dnsResolver) == nil {
            throw ValidationError("--dns-resolver \(dnsResolver): expected host, host:port or [ipv6]:port")
        }
        guard (1...3600).contains(leaseMarginSeconds) else {
            throw ValidationError("--lease-margin-seconds must be 1-3600")
        }
        _ = try database.settings()
    }

    func run() async throws {
        let configuration = StoreService.Configuration(
            allowHTTP: allowHTTP,
            allowPrivateTargets: allowPrivateTargets,
            trustAllDomains: trustAllDomains,
            leaseMarginMilliseconds: Int64(leaseMarginSeconds) * 1000,
            dnsResolver: dnsResolver.flatMap(DNSTXTResolver.init(address:)) ?? .system()
        )
        let service: StoreService
        if let backend = try database.backend(
            component: "store",
            migrations: StoreService.postgresMigrations,
            logger: options.process.makeLogger(component: "store")
        ) {
            service = StoreService(postgres: backend, configuration: configuration, logger: backend.logger)
        } else {
            try PrivateDirectory.prepare(dataDir)
            service = try StoreService(sqlitePath: "\(dataDir)/store.sqlite", configuration: configuration)
        }
        try await runComponent(
            "store",
            options: options,
            refreshMetrics: service.refreshQueueMetrics,
            background: service.backgroundServices
        ) {
            try service.router()
        }
    }
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatcher",
        abstract: "Run the dispatcher component (delivers queued webhooks)."
    )

    @OptionGroup var options: ComponentOptions

    @Option(help: "The store component's socket (default: <run-dir>/store.sock).")
    var storeSocket: String?

    @Option(help: "The auth component's socket (default: <run-dir>/auth.sock).")
    var authSocket: String?

    @Option(help: "Deliveries attempted at once.")
    var maxInFlight: Int = 64

    @Option(help: "Names this dispatcher in leases and logs (default: dispatcher-<host>-<pid>).")
    var workerId: String?

    @Option(help: "PEM file of CA certificates to trust instead of the system's.")
    var caBundle: String?

    @Flag(
        help:
            "Connect to private, loopback and link-local addresses. Unsafe outside development."
    )
    var allowPrivateTargets = false

    @Option(
        help: ArgumentHelp(
            "Override DNS for one host, as curl's --resolve (repeatable).",
            valueName: "host:port:address"
        )
    )
    var resolve: [String] = []

    @Flag(help: "Also send Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature).")
    var standardWebhooks = false

    func validate() throws {
        guard (1...10_000).contains(maxInFlight) else { throw ValidationError("--max-in-flight must be 1-10000") }
        for entry in resolve where entry.split(separator: ":", maxSplits: 2).count != 3 {
            throw ValidationError("--resolve \(entry): expected host:port:address")
        }
    }

    func run() async throws {
        ProcessOptions.bootstrapComponent()
        let process = options.process
        let logger = process.makeLogger(component: "dispatcher")
        let path = options.socket ?? process.socketPath(for: "dispatcher")
        try PrivateDirectory.prepare(forSocket: path)
        let store = process.makeClient("store", socket: storeSocket, logger: logger)
        let auth = process.makeClient("auth", socket: authSocket, logger: logger)
        let http = CurlHTTPClient(
            configuration: .init(
                caBundlePath: caBundle,
                allowInternalAddresses: allowPrivateTargets,
                resolve: resolve
            ),
            logger: logger
        )
        let dispatcher = Dispatcher(
            configuration: .init(
                workerID: workerId ?? "dispatcher-\(ProcessInfo.processInfo.hostName)-\(getpid())",
                maximumInFlight: maxInFlight,
                standardWebhooks: standardWebhooks
            ),
            store: store,
            auth: auth,
            http: http,
            logger: logger
        )
        var router = try dispatcher.router()
        try ProcessMetrics.register(on: &router)
        let server = RPCServer(
            configuration: .init(endpoint: .unixSocket(path: path), component: "dispatcher"),
            router: router,
            logger: logger
        )
        // Shutdown runs last to first: the server, then the dispatcher (finishing
        // in-flight deliveries), then curl and the clients it still needed.
        try await process.run([store, auth, http, dispatcher, server], logger: logger)
    }
}
