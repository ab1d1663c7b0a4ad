import Foundation
import HarepostContracts
import HarepostCurl
import HarepostJSON
import HarepostProto
import HarepostRPC
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Waits until every component `harepost up` started is healthy, sets up the
/// dev account in dev mode, and prints where to reach the gateway. Returns
/// early (shutting everything down) when the components do not become
/// healthy within the start-up timeout; ``failed`` then says so.
final class UpAnnouncer: Service, Sendable {
    let layout: UpLayout
    let dev: Bool
    let startupTimeout: Duration
    let auth: RPCClient
    let dispatcher: RPCClient
    let http: CurlHTTPClient
    let logger: Logger
    private let failure = NIOLockedValueBox(false)

    init(
        layout: UpLayout,
        dev: Bool,
        startupTimeout: Duration,
        auth: RPCClient,
        dispatcher: RPCClient,
        http: CurlHTTPClient,
        logger: Logger
    ) {
        self.layout = layout
        self.dev = dev
        self.startupTimeout = startupTimeout
        self.auth = auth
        self.dispatcher = dispatcher
        self.http = http
        self.logger = logger
    }

    var failed: Bool { failure.withLockedValue { $0 } }

    func run() async throws {
        let started = ContinuousClock.now
        var waiting: [String] = []
        while true {
            waiting = await componentsNotReady()
            if waiting.isEmpty { break }
            guard ContinuousClock.now - started < startupTimeout else {
                logger.error(
                    "components did not become healthy; stopping (their errors are in the log above)",
                    metadata: ["up.not_ready": "\(waiting.joined(separator: ","))"]
                )
                failure.withLockedValue { $0 = true }
                return
            }
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: .milliseconds(25)) })) != nil
            else { return }
        }
        let readyIn = ContinuousClock.now - started
        var lines = [
            "harepost is up: \(layout.gatewayURL)   (ready in \(readyIn.formatted(.units(allowed: [.milliseconds]))))",
            "  data \(layout.dataDirectory)   sockets \(layout.runDirectory)",
        ]
        if dev {
            do {
                let account = try await DevAccount.ensure(auth: auth, dataDirectory: layout.dataDirectory)
                lines += [
                    "",
                    "  DEV MODE - NOT FOR PRODUCTION: http://, loopback targets and unverified domains are accepted.",
                    "  dev account     \(account.accountID)",
                    "  api key         \(account.apiKey)",
                    "  signing secret  \(account.signingSecret)",
                    "  (saved in \(DevAccount.path(dataDirectory: layout.dataDirectory)); `harepost send` uses it)",
                    "",
                    "  try:  harepost send --target http://127.0.0.1:9000/hook --body '{\"hello\":\"world\"}'",
                ]
            } catch {
                logger.error("cannot set up the dev account", metadata: ["error": "\(error)"])
                failure.withLockedValue { $0 = true }
                return
            }
        } else {
            lines += ["  create an account:  harepost accounts create --name <name> --run-dir \(layout.runDirectory)"]
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        logger.info(
            "ready",
            metadata: [
                "up.ready_ms":
                    "\(readyIn.components.seconds * 1000 + readyIn.components.attoseconds / 1_000_000_000_000_000)"
            ]
        )
        // Idle until shutdown; the supervisor keeps the components running.
        try? await gracefulShutdown()
    }

    /// The components not healthy yet: the gateway's /readyz covers auth and
    /// store (it asks them), the dispatcher answers its health RPC.
    private func componentsNotReady() async -> [String] {
        async let readyz = http.execute(
            OutboundRequest(
                url: "\(layout.localGatewayURL)/readyz",
                method: "GET",
                headers: [],
                body: [],
                timeoutMilliseconds: 1000
            )
        )
        async let dispatcherServing: Bool = {
            (try? await dispatcher.checkHealth(timeout: .seconds(1)))?.status == .serving
        }()
        var waiting: [String] = []
        let gateway = await readyz
        if gateway.outcome != .response(status: 200) {
            if let body = try? JSONParser.parse(gateway.responseBody), case .object(let backends)? = body["backends"] {
                waiting += backends.filter { $0.value != .string(RPCV1.ServingStatus.serving.jsonName) }.map(\.key)
            } else {
                waiting.append("gateway")
            }
        }
        if await !dispatcherServing { waiting.append("dispatcher") }
        return waiting
    }
}
