import ArgumentParser
import Foundation
import HarepostAuth
import HarepostRPC
import HarepostStore

// The component processes. Each serves its RPC contract from proto/ on its own
// Unix socket; methods whose service code has not landed yet answer UNIMPLEMENTED.

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

    func validate() throws {
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
        try DataDirectory.prepare(dataDir)
        let database = try AuthDatabase(path: "\(dataDir)/auth.sqlite")
        let service = AuthService(
            database: database,
            configuration: .init(
                defaultRateLimitPerMinute: defaultRateLimit,
                signingSecretOverlapSeconds: signingSecretOverlapSeconds,
                openSignup: openSignup
            )
        )
        try await runComponent("auth", router: try service.router(), options: options)
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

    func run() async throws {
        try DataDirectory.prepare(dataDir)
        let service = try StoreService(
            sqlitePath: "\(dataDir)/store.sqlite",
            configuration: .init(
                allowHTTP: allowHTTP,
                allowPrivateTargets: allowPrivateTargets,
                trustAllDomains: trustAllDomains
            )
        )
        try await runComponent("store", router: try service.router(), options: options)
    }
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatcher",
        abstract: "Run the dispatcher component (delivers queued webhooks)."
    )

    @OptionGroup var options: ComponentOptions

    func run() async throws {
        try await runComponent("dispatcher", router: RPCRouter(), options: options)
    }
}
