import Foundation
import HarepostRPC
import HarepostTestSupport
import Testing

/// The data and run directories, and every file in them, are this user's
/// alone, whatever state they were in before.
@Suite("File permissions", .timeLimit(.minutes(2)))
struct FilePermissionTests {
    static func mode(_ path: String) -> mode_t {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        return status.st_mode & 0o777
    }

    /// An existing 0755 data directory (as `mkdir` makes it) is tightened,
    /// and the databases, their WAL files and the socket are 0600.
    @Test func anOpenDataDirectoryIsMadePrivateAndTheDatabasesAre0600() async throws {
        try await withRunDirectory { dir in
            let data = "\(dir)/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
            chmod(data, 0o755)
            chmod(dir, 0o755)
            // A database file left world-readable by an older release.
            _ = FileManager.default.createFile(atPath: "\(data)/store.sqlite", contents: nil)
            chmod("\(data)/store.sqlite", 0o644)
            let socket = "\(dir)/store.sock"
            let client = quietClient(socket: socket)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let store = try ComponentProcess(
                    ["store", "--socket", socket, "--data-dir", data, "--log-level", "warning"],
                    socket: socket
                )
                _ = try await waitUntilServing(client)
                #expect(Self.mode(data) == 0o700)
                #expect(Self.mode(dir) == 0o700)  // the run directory
                for file in ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"] {
                    #expect(FileManager.default.fileExists(atPath: "\(data)/\(file)"))
                    #expect(Self.mode("\(data)/\(file)") == 0o600, "\(file)")
                }
                #expect(Self.mode(socket) == 0o600)
                store.terminate()
                #expect(await store.waitForExit() == 0)
                group.cancelAll()
            }
        }
    }

    /// A directory another user owns is refused with a message that says so.
    @Test(.enabled(if: geteuid() == 0, "needs root to give a directory to another user"))
    func aDirectoryOwnedByAnotherUserIsRefused() async throws {
        try await withRunDirectory { dir in
            let data = "\(dir)/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
            chown(data, 65534, 65534)
            let result = try await runChildProcess(
                harepostBinary,
                ["store", "--socket", "\(dir)/store.sock", "--data-dir", data, "--log-level", "warning"]
            )
            #expect(result.status != 0)
            #expect(result.errors.contains("refusing \(data): it is owned by uid 65534, not by this user (uid 0)"))
        }
    }
}
