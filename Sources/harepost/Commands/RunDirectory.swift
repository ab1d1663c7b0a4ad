import Foundation

/// The run directory (sockets, pid files) and the data directory (databases,
/// the dev account) are created mode 0700 when missing: only this user may
/// reach the sockets, even before each is chmod-ed, and the data holds secrets.
enum PrivateDirectory {
    static func prepare(_ path: String) throws {
        guard !path.isEmpty, !FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.createDirectory(
            atPath: path,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }

    /// Prepares the directory a socket file goes into.
    static func prepare(forSocket path: String) throws {
        try prepare((path as NSString).deletingLastPathComponent)
    }
}
