import Foundation
import HarepostContracts
import HarepostJSON
import HarepostProto
import HarepostRPC

/// The account `harepost up --dev` creates once and reuses: its id, API key and
/// signing secret are kept in `<data-dir>/dev-account.json` (mode 0600), since
/// auth stores only a hash of the key and could not show it again.
struct DevAccount: Equatable {
    static let fileName = "dev-account.json"

    var accountID: String
    var apiKey: String
    var signingSecret: String

    static func path(dataDirectory: String) -> String { "\(dataDirectory)/\(fileName)" }

    /// The saved dev account, if there is a readable one.
    static func load(dataDirectory: String) -> DevAccount? {
        guard let data = FileManager.default.contents(atPath: path(dataDirectory: dataDirectory)),
            let json = try? JSONParser.parse(Array(data)),
            case .string(let accountID)? = json["account_id"],
            case .string(let apiKey)? = json["api_key"],
            case .string(let signingSecret)? = json["signing_secret"]
        else { return nil }
        return DevAccount(accountID: accountID, apiKey: apiKey, signingSecret: signingSecret)
    }

    func save(dataDirectory: String) throws {
        let json = JSONValue.object([
            ("account_id", .string(accountID)), ("api_key", .string(apiKey)),
            ("signing_secret", .string(signingSecret)),
        ])
        let path = Self.path(dataDirectory: dataDirectory)
        let created = FileManager.default.createFile(
            atPath: path,
            contents: Data(JSONWriter.bytes(json) + [0x0A]),
            attributes: [.posixPermissions: 0o600]
        )
        guard created else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    /// The saved account when auth still accepts its key; otherwise a new
    /// account (named `dev`, test environment, no rate limit), saved.
    static func ensure(auth: RPCClient, dataDirectory: String) async throws -> DevAccount {
        let options = RPCCallOptions(timeout: .seconds(5))
        if let saved = load(dataDirectory: dataDirectory), try await isAccepted(saved.apiKey, by: auth) {
            return saved
        }
        var request = AuthV1.CreateAccountRequest()
        request.name = "dev"
        request.environment = .test
        let created = try await auth.call(AuthV1.Auth.CreateAccount.self, request, options: options)
        let account = DevAccount(accountID: created.id, apiKey: created.apiKey, signingSecret: created.signingSecret)
        var unlimited = AuthV1.SetRateLimitRequest()
        unlimited.rateLimitPerMinute = 0
        _ = try await auth.call(
            AuthV1.Auth.SetRateLimit.self,
            unlimited,
            options: RPCCallOptions(timeout: .seconds(5), metadata: [RPCMetadataKey.accountID: account.accountID])
        )
        try? FileManager.default.removeItem(atPath: path(dataDirectory: dataDirectory))
        try account.save(dataDirectory: dataDirectory)
        return account
    }

    /// Whether auth still knows `apiKey` (false after its database was reset).
    private static func isAccepted(_ apiKey: String, by auth: RPCClient) async throws -> Bool {
        var request = AuthV1.AuthenticateRequest()
        request.apiKey = apiKey
        do {
            _ = try await auth.call(
                AuthV1.Auth.Authenticate.self,
                request,
                options: RPCCallOptions(timeout: .seconds(5))
            )
            return true
        } catch {
            guard error.code == .unauthenticated else { throw error }
            return false
        }
    }
}
