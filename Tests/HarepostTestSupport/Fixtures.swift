public import Foundation

/// Files in Tests/HarepostTestSupport/Fixtures: the seed documents' example
/// responses (`<name>.json`), the scripted HTTPS target.
public enum TestFixtures {
    public static func url(_ name: String, extension pathExtension: String) -> URL? {
        Bundle.module.url(forResource: name, withExtension: pathExtension, subdirectory: "Fixtures")
    }

    /// The bytes of `Fixtures/<name>.json`.
    public static func json(_ name: String) throws -> [UInt8] {
        guard let url = url(name, extension: "json") else { throw CocoaError(.fileNoSuchFile) }
        return Array(try Data(contentsOf: url))
    }
}
