import Foundation
import HTTPTypes
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

/// The store on a real filesystem that fills up: a small tmpfs mounted for
/// the test (root only, as in CI).
@Suite(
    "Disk full",
    .timeLimit(.minutes(2)),
    .enabled(if: geteuid() == 0, "mounting a small tmpfs needs root")
)
struct DiskFullTests {
    /// Runs `body` with a 4 MiB tmpfs mounted on a fresh directory.
    static func withSmallDisk<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = try makeTemporaryDirectory("hp-full")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mounted = try await runTool(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", directory])
        try #require(mounted.status == 0, "mount: \(mounted.errors)")
        defer { _ = umount2(directory, Int32(MNT_DETACH)) }
        return try await body(directory)
    }

    /// Fills what is left of the filesystem at `directory` with one file.
    static func fill(_ directory: String) -> String {
        let path = "\(directory)/filler"
        let descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0xaa, count: 64 * 1024)
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        // The last partial blocks.
        while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress, 512) }) > 0 {}
        return path
    }

    /// A full disk is 503 with `Retry-After` and the error body, readiness
    /// says so, and both recover by themselves once space returns; what was
    /// accepted before is all still there.
    @Test func aFullDiskIs503AndNotReadyUntilSpaceReturns() async throws {
        try await Self.withSmallDisk { disk in
            for component in ["auth", "store"] {
                try FileManager.default.createDirectory(
                    atPath: "\(disk)/\(component)",
                    withIntermediateDirectories: false
                )
            }
            try await GatewayHarness.with(authDirectory: "\(disk)/auth", storeDirectory: "\(disk)/store") { gateway in
                let send =
                    #"{"target": "https://your-app.com/hook", "body": {"padding": "\#(String(repeating: "x", count: 2000))"}}"#
                var accepted: [String] = []
                for _ in 0..<20 {
                    let reply = try await gateway.request(.post, "/v1/send", json: send)
                    try #require(reply.status == 202)
                    if case .string(let id)? = reply.json["queue_id"] { accepted.append(id) }
                }
                let filler = Self.fill(disk)
                // Writes fail once SQLite needs a block it cannot get.
                var refused: GatewayHarness.Reply?
                for _ in 0..<2000 where refused == nil {
                    let reply = try await gateway.request(.post, "/v1/send", json: send)
                    if reply.status == 202, case .string(let id)? = reply.json["queue_id"] {
                        accepted.append(id)
                    } else {
                        refused = reply
                    }
                }
                let full = try #require(refused)
                #expect(full.status == 503)
                #expect(full.header("retry-after") == "1")
                #expect(full.json["error"] == .string("service unavailable"))
                #expect(full.json["detail"] != nil)
                // Auth too: a write is UNAVAILABLE, and reads (authentication) go on.
                let newKey = await #expect(throws: RPCError.self) {
                    try await gateway.auth.call(
                        "harepost.auth.v1.Auth/CreateApiKey",
                        try ProtoMessage("harepost.auth.v1.CreateApiKeyRequest"),
                        options: RPCCallOptions(metadata: [RPCMetadataKey.accountID: gateway.accountID])
                    )
                }
                #expect(newKey?.code == .unavailable)
                let ready = try await gateway.request(.get, "/readyz", as: .anonymous)
                #expect(ready.status == 503)
                #expect(ready.json["backends"]?["store"] == .string("not_serving"))
                #expect(ready.json["backends"]?["auth"] == .string("not_serving"))
                // Lookups still work.
                #expect(try await gateway.request(.get, "/v1/deliveries/\(accepted[0])").status == 200)

                try FileManager.default.removeItem(atPath: filler)
                // Health checks probe the disk (at most once a second).
                var readyAgain = false
                for _ in 0..<100 where !readyAgain {
                    readyAgain = try await gateway.request(.get, "/readyz", as: .anonymous).status == 200
                    if !readyAgain { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(readyAgain)
                #expect(try await gateway.request(.post, "/v1/send", json: send).status == 202)
                for id in accepted {
                    #expect(try await gateway.request(.get, "/v1/deliveries/\(id)").status == 200, "\(id)")
                }
            }
        }
    }
}
