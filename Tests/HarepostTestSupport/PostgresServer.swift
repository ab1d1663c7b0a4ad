import Foundation

/// The cluster every server of this process copies, removed at exit.
nonisolated(unsafe) private var templateDirectory: String?

/// A throwaway PostgreSQL server for one test: `initdb` into a temp dir, then
/// `postgres` on a loopback port (and a Unix socket in the same dir), trust
/// authentication for the user `harepost`. Run as root (CI), the server runs
/// as the `postgres` user, which owns the dir.
///
/// The cluster is made once per test process and copied for each server,
/// because `initdb` takes about a second and a copy a few milliseconds.
public final class PostgresServer: Sendable {
    public let directory: String
    public let port: Int
    private let binaries: String

    /// Starts a server, runs `body`, and stops the server (immediately) and
    /// removes its files however `body` ends.
    public static func with<T>(lane: Lane = .shared, _ body: (PostgresServer) async throws -> T) async throws -> T {
        // A few at a time: each is a dozen processes, and the rest of the
        // suite runs beside them on two cores.
        let slots = lane == .shared ? running : runningLong
        await slots.acquire()
        defer { Task { await slots.release() } }
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
        let template = try await Self.template(binaries)
        _ = try await Self.run(["cp", "-a", template, "\(directory)/data"], in: directory)
        try Self.handToServerUser(directory)
        try await start()
    }

    /// `postgres://harepost@127.0.0.1:<port>/<database>?sslmode=disable`.
    public func url(database: String = "postgres") -> String {
        "postgres://harepost@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// Makes a database and returns its URL.
    public func createDatabase(_ name: String) async throws -> String {
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// Runs SQL through psql (over the Unix socket) and returns its output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let (status, output) = try await Self.run(
            [
                "\(binaries)/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", "\(port)",
                "-U", "harepost", "-d", database, "-c", sql,
            ],
            in: directory
        )
        guard status == 0 else { throw Failure("psql: \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func start() async throws {
        try await pgctl([
            "start", "-w", "-t", "60", "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-o",
            "-k \(directory) -p \(port) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        ])
    }

    /// Stops the server: `immediate` is a crash (no checkpoint, recovery on
    /// the next start); `fast` a clean shutdown.
    public func stop(_ mode: String = "immediate") async throws {
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

    // MARK: Once per process

    /// Which servers a test waits for: the time it waits counts against its time limit.
    public enum Lane: Sendable {
        /// Two at a time, for service tests that hold a server a few seconds.
        case shared
        /// One at a time of its own, for process tests that hold a server
        /// for a minute, so they do not starve the service tests.
        case long
    }

    private static let running = Slots(2)
    private static let runningLong = Slots(1)

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
