import Foundation
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

/// Runs `harepost <arguments>` to completion; returns its exit status and standard output.
func runHarepost(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let result = try await runChildProcess(harepostBinary, arguments)
    return (result.status, result.output)
}

@Suite("Auth process", .timeLimit(.minutes(2)))
struct AuthProcessTests {
    @Test func operatorCLICreatesAnAccountWhoseKeySurvivesARestart() async throws {
        try await withRunDirectory { dir in
            let socket = "\(dir)/auth.sock"
            let arguments = ["auth", "--socket", socket, "--data-dir", "\(dir)/data", "--log-level", "warning"]
            let client = quietClient(socket: socket)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let first = try ComponentProcess(arguments, socket: socket)
                _ = try await waitUntilServing(client)

                let created = try await runHarepost([
                    "accounts", "create", "--name", "Acme", "--json", "--auth-socket", socket,
                ])
                #expect(created.status == 0)
                let account = try #require(
                    try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any]
                )
                let id = try #require(account["id"] as? String)
                let key = try #require(account["api_key"] as? String)
                #expect(key.hasPrefix("hp_live_"))

                let authenticate = try ProtoMessage("harepost.auth.v1.AuthenticateRequest", ["api_key": .string(key)])
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", authenticate).string("account_id") == id
                )

                first.terminate()
                #expect(await first.waitForExit() == 0)
                let second = try ComponentProcess(arguments, socket: socket)
                _ = try await waitUntilServing(client)
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", authenticate).string("account_id") == id
                )

                let listed = try await runHarepost(["keys", "list", "--account", id, "--json", "--auth-socket", socket])
                #expect(listed.status == 0)
                #expect(listed.output.contains(String(key.prefix(16))))
                #expect(!listed.output.contains(key))

                let bad = try await runHarepost([
                    "keys", "revoke", "--account", id, "not-a-key", "--auth-socket", socket,
                ])
                #expect(bad.status == 1)
                second.terminate()
                #expect(await second.waitForExit() == 0)
                group.cancelAll()
            }
        }
    }
}
