import Foundation
import Logging

/// The run directory (sockets, pid files) and the data directory (databases,
/// the dev account) belong to this user alone: the sockets act for any
/// account and the databases hold signing secrets.
///
/// A missing directory is created 0700. An existing one must be a directory
/// owned by this user; if group or others may use it, it is tightened to
/// 0700 (and the database files in it to 0600), with a warning. Every process
/// also runs with umask 077 (``Harepost/main()``), so whatever it creates
/// later (SQLite's `-wal` and `-shm` files among them) is 0600 from the start.
enum PrivateDirectory {
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// The files harepost keeps in a data directory, tightened with it.
    static let ownFiles = [
        "auth.sqlite", "auth.sqlite-wal", "auth.sqlite-shm", "store.sqlite", "store.sqlite-wal", "store.sqlite-shm",
        "dev-account.json",
    ]

    static let logger = Logger(label: "harepost.files") { StreamLogHandler.standardError(label: $0) }

    static func prepare(_ path: String) throws {
        guard !path.isEmpty else { return }
        var status = stat()
        guard stat(path, &status) == 0 else {
            try FileManager.default.createDirectory(
                atPath: path,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
            return
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw Refused(description: "\(path) is not a directory")
        }
        guard status.st_uid == geteuid() else {
            throw Refused(
                description:
                    "refusing \(path): it is owned by uid \(status.st_uid), not by this user (uid \(geteuid())); "
                    + "harepost keeps secrets there, so it must own the directory (chown it, or choose another)"
            )
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 != 0 else { return }
        guard chmod(path, 0o700) == 0 else {
            throw Refused(description: "cannot make \(path) private (chmod 0700): \(String(cString: strerror(errno)))")
        }
        logger.warning(
            "directory was readable by other users; made private",
            metadata: ["file.path": "\(path)", "file.mode.before": "\(String(mode, radix: 8))", "file.mode": "700"]
        )
        for name in ownFiles {
            let file = "\(path)/\(name)"
            guard stat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_mode & 0o077 != 0 else {
                continue
            }
            chmod(file, 0o600)
            logger.warning(
                "file was readable by other users; made private",
                metadata: ["file.path": "\(file)", "file.mode.before": "\(String(status.st_mode & 0o777, radix: 8))"]
            )
        }
    }

    /// Prepares the directory a socket file goes into.
    static func prepare(forSocket path: String) throws {
        try prepare((path as NSString).deletingLastPathComponent)
    }
}
