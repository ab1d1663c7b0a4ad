import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Logging
import Testing

/// The `harepost` binary built next to this test bundle.
let harepostBinary: URL = {
    var directory = Bundle.main.bundleURL
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("harepost")
        if FileManager.default.isExecutableFile(atPath: candidate.path), !candidate.hasDirectoryPath {
            return candidate
        }
        directory.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../.build/debug/harepost"
    ).standardized
}()

/// A component running as its own OS process.
final class ComponentProcess {
    let handle: ChildProcessHandle
    let socket: String

    convenience init(_ component: String, socket: String) throws {
        try self.init([component, "--socket", socket, "--log-level", "warning"], socket: socket)
    }

    /// - Parameter directory: the working directory; by default the socket's
    ///   (relative defaults such as data/ and run/ land in the test's own
    ///   directory), or the test's when there is no socket.
    init(_ arguments: [String], socket: String, directory: String? = nil) throws {
        self.socket = socket
        handle = try ChildProcessHandle.start(
            harepostBinary,
            arguments,
            directory: directory
                ?? (socket.isEmpty ? nil : URL(fileURLWithPath: socket).deletingLastPathComponent().path),
            keepOutput: true
        )
    }

    func terminate() { handle.terminate() }
    func kill9() { handle.kill9() }

    /// Waits for the process to exit; returns its status, or nil after `timeout`.
    func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        await handle.waitForExit(timeout: timeout)
    }
}

/// A run directory for one test's processes, removed afterwards.
func withRunDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    try await withTemporaryDirectory("hp-e2e", body)
}

/// An RPC client that logs nothing.
func quietClient(socket: String) -> RPCClient {
    var logger = Logger(label: "harepost.e2e")
    logger.logLevel = .critical
    return RPCClient(configuration: .init(endpoint: .unixSocket(path: socket)), logger: logger)
}

/// Polls health until the component answers SERVING.
func waitUntilServing(_ client: RPCClient, timeout: Duration = .seconds(20)) async throws -> RPCV1.HealthCheckResponse {
    let deadline = ContinuousClock.now + timeout
    var lastError: RPCError?
    while ContinuousClock.now < deadline {
        do {
            let health = try await client.checkHealth()
            if health.status == .serving { return health }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw lastError ?? RPCError.unavailable("component never became healthy")
}

@Suite("Component processes", .timeLimit(.minutes(2)))
struct ComponentProcessTests {
    @Test(arguments: ["auth", "store", "dispatcher"])
    func componentServesHealthAndDrainsOnSIGTERM(component: String) async throws {
        try await withRunDirectory { dir in
            let socket = "\(dir)/\(component).sock"
            let client = quietClient(socket: socket)
            let process = try ComponentProcess(component, socket: socket)

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let health = try await waitUntilServing(client)
                #expect(health.component == component)
                let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
                #expect(mode == 0o600)

                process.terminate()
                #expect(await process.waitForExit() == 0)
                #expect(!FileManager.default.fileExists(atPath: socket))
                group.cancelAll()
            }
        }
    }

    /// kill -9 leaves a stale socket file; a new process replaces it and the same
    /// client (never restarted) reaches it.
    @Test func aKilledComponentRestartsOnItsStaleSocketAndClientsReconnect() async throws {
        try await withRunDirectory { dir in
            let socket = "\(dir)/store.sock"
            let client = quietClient(socket: socket)

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let first = try ComponentProcess("store", socket: socket)
                _ = try await waitUntilServing(client)
                first.kill9()
                #expect(await first.waitForExit() != nil)
                #expect(FileManager.default.fileExists(atPath: socket))  // stale
                do {
                    // A deadline far off: only the refused connection can end
                    // this call early, however loaded the machine is.
                    _ = try await client.checkHealth(timeout: .seconds(30))
                    Issue.record("a killed component answered")
                } catch let error as RPCError {
                    #expect(error.code == .unavailable)
                }

                let second = try ComponentProcess("store", socket: socket)
                let health = try await waitUntilServing(client)
                #expect(health.component == "store")
                // The restarted store serves its contract: a call without an account is refused.
                do {
                    _ = try await client.call(
                        "harepost.store.v1.Store/GetDelivery",
                        try ProtoMessage("harepost.store.v1.GetDeliveryRequest")
                    )
                    Issue.record("GetDelivery answered")
                } catch let error as RPCError {
                    #expect(error.code == .unauthenticated)
                }
                second.terminate()
                #expect(await second.waitForExit() == 0)
                group.cancelAll()
            }
        }
    }

    /// docs/rpc.md is enough to write a client: its stdlib-only Python example,
    /// which encodes protobuf by hand, talks to a live component.
    @Test func theDocumentedPythonClientTalksToALiveComponent() async throws {
        try await withRunDirectory { dir in
            let socket = "\(dir)/dispatcher.sock"
            let client = quietClient(socket: socket)
            let component = try ComponentProcess("dispatcher", socket: socket)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                _ = try await waitUntilServing(client)
                group.cancelAll()
            }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../docs/examples/rpc_health.py").standardized
            let python = try await runTool(["python3", script.path, socket])
            let text = python.output
            #expect(python.status == 0)
            #expect(text.contains(#""status": "serving""#))
            #expect(text.contains(#""component": "dispatcher""#))
            component.terminate()
            #expect(await component.waitForExit() == 0)
        }
    }
}
