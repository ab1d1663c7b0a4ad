import Foundation

/// Runs `body` with a fresh directory under /tmp, removed afterwards. The path
/// is short because Unix socket paths are limited to 108 bytes.
public func withTemporaryDirectory<T>(
    _ prefix: String = "hp",
    _ body: (String) async throws -> T
) async throws -> T {
    let path = try makeTemporaryDirectory(prefix)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A fresh directory under /tmp that the caller owns (and may leave behind).
public func makeTemporaryDirectory(_ prefix: String = "hp") throws -> String {
    let path = "/tmp/\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
