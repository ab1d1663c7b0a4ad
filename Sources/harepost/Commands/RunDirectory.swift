import Foundation

enum RunDirectory {
    /// Creates the socket's directory (mode 0700) when missing, so only this user
    /// can reach the sockets even in the moment before each is chmod-ed.
    static func prepare(forSocket path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else { return }
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }
}

enum DataDirectory {
    /// Creates the data directory (mode 0700) when missing: it holds secrets.
    static func prepare(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try FileManager.default.createDirectory(
            atPath: path,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }
}
