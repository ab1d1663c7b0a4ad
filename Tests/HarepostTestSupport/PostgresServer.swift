import Foundation

/// The cluster every server of this process copies, removed at exit.
nonisolated(unsafe) private var templateDirectory: String?
/// The shared server, stopped and removed at exit.
nonisolated(unsafe) private var sharedServerToStop: (binaries: String, directory: String)?

/// Stops a server and removes its files, blocking: at exit no task runs.
private func stopAtExit(binaries: String, directory: String) {
    var command = ["\(binaries)/pg_ctl", "stop", "-w", "-D", "\(directory)/data", "-m", "immediate"]
    if geteuid() == 0 { command = ["runuser", "-u", "postgres", "--"] + command }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var pid: pid_t = 0
    let argv = command.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    if posix_spawnp(&pid, command[0], &actions, nil, argv, environ) == 0 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    try? FileManager.default.removeItem(atPath: directory)
}

/// A throwaway PostgreSQL for one test: `initdb` into a temp dir, then
/// `postgres` on a loopback port (and a Unix socket in the same dir), trust
/// authentication for the user `harepost`. Run as root (CI), the server runs
/// as the `postgres` user, which owns the dir.
///
/// Most tests get a fresh database on one server the test process shares
/// (``Kind/database``): a database takes a few milliseconds to make, a
/// server a second, and tests never wait for one another's. Tests that stop
/// and start the server, or load it for a minute, get their own
/// (``Kind/ownServer``). The cluster is made once per process and copied for
/// each server.
public final class PostgresServer: Sendable {
    public let directory: String
    public let port: Int
    /// The database ``url(database:)`` and ``psql(_:database:)`` use unless told otherwise.
    public let database: String
    /// Whether this test owns the server (and may stop and start it).
    let owned: Bool
    private let binaries: String

    /// What a test gets.
    public enum Kind: Sendable {
        /// A fresh database on the process's shared server.
        case database
        /// A server of its own (at most two at once), for tests that stop
        /// and start it or load it heavily.
        case ownServer
    }

    /// Runs `body` with a fresh database (on the shared server) or a server
    /// of its own, which is stopped (immediately) and removed however `body` ends.
    public static func with<T>(_ kind: Kind = .database, _ body: (PostgresServer) async throws -> T) async throws
        -> T
    {
        if kind == .database {
            // A few at a time, so that they spread over the run rather than
            // all start at once beside the tests that watch socket timing.
            await runningOnShared.acquire()
            defer { Task { await runningOnShared.release() } }
            let shared = try await sharedServer.server()
            let name = "t\(UInt32.random(in: 0...UInt32.max))_\(UInt32.random(in: 0...UInt32.max))"
            try await shared.psql("CREATE DATABASE \(name)")
            return try await body(PostgresServer(viewOf: shared, database: name))
        }
        await running.acquire()
        defer { Task { await running.release() } }
        let server = try await PostgresServer()
        do {
            let result = try await body(server)
            try? await server.stop()
            server.remove()
            return result
        } catch {
            try? await server.stop()
            server.remove()
            throw error
        }
    }

    private init() async throws {
        binaries = try Self.binaryDirectory()
        directory = try makeTemporaryDirectory("hp-pg")
        port = try Self.freePort()
        database = "postgres"
        owned = true
        let template = try await Self.template(binaries)
        _ = try await Self.run(["cp", "-a", template, "\(directory)/data"], in: directory)
        try Self.handToServerUser(directory)
        try await start()
    }

    private init(viewOf server: PostgresServer, database: String) {
        binaries = server.binaries
        directory = server.directory
        port = server.port
        self.database = database
        owned = false
    }

    /// The server's Unix socket (`?host=<dir>`): the suite opens hundreds of
    /// connections, and loopback TCP sockets share the kernel's TCP memory
    /// with the tests that measure socket buffers.
    public func url(database: String? = nil) -> String {
        "postgres://harepost@localhost:\(port)/\(database ?? self.database)?host=\(directory)"
    }

    /// `postgres://harepost@127.0.0.1:<port>/<database>?sslmode=disable`: over TCP.
    public func tcpURL(database: String? = nil) -> String {
        "postgres://harepost@127.0.0.1:\(port)/\(database ?? self.database)?sslmode=disable"
    }

    /// Makes a database and returns its URL.
    public func createDatabase(_ name: String) async throws -> String {
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs SQL through psql (over the Unix socket) and returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String? = nil) async throws -> String {
        let (status, output) = try await Self.run(
            [
                "\(binaries)/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", "\(port)",
                "-U", "harepost", "-d", database ?? self.database, "-c", sql,
            ],
            in: directory
        )
        guard status == 0 else { throw Failure("psql: \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func start() async throws {
        precondition(owned, "only a test's own server may be started and stopped")
        try await pgctl([
            "start", "-w", "-t", "60", "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-o",
            "-k \(directory) -p \(port) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500",
        ])
    }

    /// Stops the server: `immediate` is a crash (no checkpoint, recovery on
    /// the next start); `fast` a clean shutdown.
    public func stop(_ mode: String = "immediate") async throws {
        precondition(owned, "only a test's own server may be started and stopped")
        try await pgctl(["stop", "-w", "-D", "\(directory)/data", "-m", mode])
    }

    /// The server's log, for a failing test's message.
    public var log: String { (try? String(contentsOfFile: "\(directory)/server.log", encoding: .utf8)) ?? "" }

    private func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private func pgctl(_ arguments: [String]) async throws {
        let (status, said) = try await Self.run(Self.asServerUser(["\(binaries)/pg_ctl"] + arguments), in: directory)
        guard status == 0 else { throw Failure("pg_ctl \(arguments[0]): \(said)\n\(log)") }
    }

    /// Runs a command to its end, its output in a file rather than a pipe
    /// (a server pg_ctl starts keeps every descriptor it inherited, so a
    /// pipe would never end), spawned and reaped here: Foundation's
    /// `Process` loses track of `runuser` once it exits, and after that of
    /// other children of the test process too.
    static func run(_ command: [String], in directory: String) async throws -> (status: Int32, output: String) {
        let outputPath = "\(directory)/command-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of the test process: a server started here would hold
        // on to its sockets (a connection a test closes would stay open).
        try closeFrom(3, &actions)
        var pid: pid_t = 0
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure("cannot run \(command[0]): errno \(spawned)") }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            guard reaped == 0 else { throw Failure("lost \(command[0]) (pid \(pid)): errno \(errno)") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (status, output)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which
    /// Swift's Glibc module does not declare.
    private static func closeFrom(_ first: Int32, _ actions: inout posix_spawn_file_actions_t) throws {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { throw Failure("this C library cannot close descriptors when spawning (glibc 2.34 or later can)") }
        guard unsafeBitCast(symbol, to: CloseFrom.self)(&actions, first) == 0 else {
            throw Failure("posix_spawn_file_actions_addclosefrom_np failed")
        }
    }

    // MARK: Once per process

    /// Servers of their own at once: each is a dozen processes beside the
    /// rest of the suite on two cores.
    private static let running = Slots(2)
    private static let runningOnShared = Slots(3)
    private static let sharedServer = SharedServer()

    /// The process's shared server, started on first use and stopped at exit.
    private actor SharedServer {
        var started: Task<PostgresServer, any Error>?
        func server() async throws -> PostgresServer {
            if started == nil {
                started = Task {
                    let server = try await PostgresServer()
                    sharedServerToStop = (server.binaries, server.directory)
                    atexit {
                        guard let (binaries, directory) = sharedServerToStop else { return }
                        stopAtExit(binaries: binaries, directory: directory)
                    }
                    return server
                }
            }
            return try await started!.value
        }
    }

    private actor Slots {
        private var free: Int
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(_ count: Int) { free = count }

        func acquire() async {
            if free > 0 {
                free -= 1
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
        }
    }

    private static let templateTask = TemplateCache()

    private actor TemplateCache {
        var made: Task<String, any Error>?
        func path(_ binaries: String) async throws -> String {
            if made == nil { made = Task { try await Self.make(binaries) } }
            return try await made!.value
        }

        private static func make(_ binaries: String) async throws -> String {
            let directory = try makeTemporaryDirectory("hp-pg-template")
            try handToServerUser(directory)
            let (status, output) = try await run(
                asServerUser([
                    "\(binaries)/initdb", "-D", "\(directory)/data", "-U", "harepost", "--auth=trust", "-E", "UTF8",
                    "--no-sync", "--locale=C",
                ]),
                in: "/tmp"
            )
            guard status == 0 else { throw Failure("initdb: \(output)") }
            templateDirectory = directory
            atexit { templateDirectory.map { try? FileManager.default.removeItem(atPath: $0) } }
            return "\(directory)/data"
        }
    }

    private static func template(_ binaries: String) async throws -> String {
        try await templateTask.path(binaries)
    }

    /// Debian's `/usr/lib/postgresql/<version>/bin`, the newest there.
    static func binaryDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw Failure("no PostgreSQL server under \(root): install the postgresql package")
        }
        return "\(root)/\(newest)/bin"
    }

    private static var isRoot: Bool { geteuid() == 0 }

    private static func asServerUser(_ arguments: [String]) -> [String] {
        isRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments
    }

    /// PostgreSQL refuses to run as root and needs its dir to itself.
    private static func handToServerUser(_ directory: String) throws {
        guard isRoot else { return }
        guard let user = getpwnam("postgres") else { throw Failure("no postgres user") }
        guard chown(directory, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
            throw Failure("chown \(directory): errno \(errno)")
        }
        // Its parent (/tmp) is open to all; the dir itself stays private.
        chmod(directory, 0o700)
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bind(fd, sockaddrPointer, length) == 0 && getsockname(fd, sockaddrPointer, &length) == 0
            }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
