import ArgumentParser
import Foundation
import HarepostAuth
import HarepostPostgres
import HarepostStore
import Logging

/// `harepost migrate-sqlite-to-postgres`: moves a single-host deployment's
/// store and auth into PostgreSQL, checked, so that several stores, auths and
/// dispatchers can then share it.
struct MigrateSQLiteToPostgresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-sqlite-to-postgres",
        abstract: "Copy the SQLite store and auth into an empty PostgreSQL database, and check the copy.",
        discussion: """
            Stop store and auth (or `harepost up`) first. Applies the schema, copies every \
            row of store.sqlite and auth.sqlite in one transaction per component, then \
            compares row counts and a sample of lookups (deliveries with their attempts, \
            keys by hash, signing secrets) through both engines. Any difference is an \
            error, and the SQLite files are left untouched either way.
            """
    )

    @Option(help: "Directory holding store.sqlite and auth.sqlite.")
    var dataDir: String = "data"

    @Option(help: "How many deliveries and accounts to look up through both engines (0-100000).")
    var sample: Int = 200

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard try database.settings() != nil else {
            throw ValidationError("--database (or HAREPOST_DATABASE_URL) names the PostgreSQL to copy into")
        }
        guard (0...100_000).contains(sample) else { throw ValidationError("--sample must be 0-100000") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let files = ["store", "auth"].map { "\(dataDir)/\($0).sqlite" }
        for file in files where !FileManager.default.fileExists(atPath: file) {
            throw ValidationError("no \(file): --data-dir names the directory of the SQLite files")
        }
        try refuseWhileRunning()
        let logger = process.makeLogger(component: "migrate")
        guard
            let store = try database.backend(
                component: "store",
                migrations: StoreService.postgresMigrations,
                logger: logger
            ),
            let auth = try database.backend(
                component: "auth",
                migrations: AuthService.postgresMigrations,
                logger: logger
            )
        else { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for backend in [store, auth] { group.addTask { try await backend.run() } }
            try await store.ready()
            try await auth.ready()
            do {
                let stored = try await StoreService.copySQLite(at: files[0], to: store, sample: sample)
                print("store: \(stored.counts.map(\.description).joined(separator: ", "))")
                print("  counts equal; \(stored.lookupsCompared) deliveries read the same through both engines")
                let authed = try await AuthService.copySQLite(at: files[1], to: auth, sample: sample)
                print("auth: \(authed.counts.map(\.description).joined(separator: ", "))")
                print("  counts equal; \(authed.lookupsCompared) accounts read the same through both engines")
            } catch let refusal as SQLiteToPostgres.Refusal {
                throw ValidationError(refusal.description)
            }
            print("Copied. Start store and auth with --database \(try database.settings()!).")
            group.cancelAll()
        }
    }

    /// A store or auth still serving could take writes the copy misses.
    private func refuseWhileRunning() throws {
        if FileManager.default.fileExists(atPath: process.runDir) {
            do {
                try RunDirectoryLock(process.runDir).release()
            } catch {
                throw ValidationError("`harepost up` is running with \(process.runDir): stop it before copying")
            }
        }
        for component in ["store", "auth"] {
            let socket = process.socketPath(for: component)
            if UnixSocketProbe.accepts(socket) {
                throw ValidationError("\(component) is serving on \(socket): stop it before copying")
            }
        }
    }
}

/// Whether something accepts connections on a Unix socket.
enum UnixSocketProbe {
    static func accepts(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return connected == 0
    }
}
