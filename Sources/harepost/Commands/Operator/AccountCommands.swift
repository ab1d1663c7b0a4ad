import ArgumentParser
import HarepostContracts

struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts",
        abstract: "Manage accounts (through the running auth component).",
        subcommands: [Create.self, SetRateLimit.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account; prints its id, first API key (shown only now) and signing secret."
        )

        @Option(help: "The account's name.")
        var name: String

        @Option(help: "Environment of the first API key: live or test.")
        var environment: String = "live"

        @OptionGroup var options: OperatorOptions

        func validate() throws {
            _ = try environmentOption(environment)
        }

        func run() async throws {
            var request = AuthV1.CreateAccountRequest()
            request.name = name
            request.environment = try environmentOption(environment)
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.CreateAccount.self,
                request,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                """
                account         \(response.id)
                name            \(response.name)
                api key         \(response.apiKey)   (shown only now: store it)
                signing secret  \(response.signingSecret)
                """
            }
        }
    }

    struct SetRateLimit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-rate-limit",
            abstract: "Set an account's requests per minute (0 switches the limit off)."
        )

        @Option(help: "The account id.")
        var account: String

        @Option(help: "Requests per minute; 0 means unlimited.")
        var perMinute: Int

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            var request = AuthV1.SetRateLimitRequest()
            request.rateLimitPerMinute = Int32(clamping: perMinute)
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.SetRateLimit.self,
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                let limit = response.rateLimitPerMinute
                return limit == 0 ? "rate limit off for \(account)" : "\(account): \(limit) requests per minute"
            }
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage an account's API keys (through the running auth component).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key; the key is shown only now.")

        @Option(help: "The account id.")
        var account: String

        @Option(help: "live or test.")
        var environment: String = "live"

        @OptionGroup var options: OperatorOptions

        func validate() throws {
            _ = try environmentOption(environment)
        }

        func run() async throws {
            var request = AuthV1.CreateApiKeyRequest()
            request.environment = try environmentOption(environment)
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.CreateApiKey.self,
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                "\(response.apiKey)   (key \(response.key?.id ?? ""); shown only now: store it)"
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an account's API keys (prefixes only).")

        @Option(help: "The account id.")
        var account: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.ListApiKeys.self,
                AuthV1.ListApiKeysRequest(),
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                table(
                    ["ID", "PREFIX", "ENV", "CREATED", "LAST USED", "REVOKED"],
                    response.data.map { key in
                        [
                            key.id, key.prefix, key.environment.jsonName,
                            timeText(key.createdAt), timeText(key.lastUsedAt), timeText(key.revokedAt),
                        ]
                    }
                )
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an API key.",
            discussion: """
                Auth refuses the key from the next lookup. A gateway that checked the key \
                recently keeps accepting it until its principal cache expires: at most \
                --auth-cache-seconds (5 s by default; 0 turns the cache off).
                """
        )

        @Option(help: "The account id.")
        var account: String

        @Argument(help: "The key id (key_…), as `harepost keys list` shows it.")
        var keyID: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            var request = AuthV1.RevokeApiKeyRequest()
            request.id = keyID
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.RevokeApiKey.self,
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                "revoked \(keyID): refused by auth now, by gateways once their key cache expires (--auth-cache-seconds)"
            }
        }
    }
}

struct SigningSecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing-secret",
        abstract: "Show or rotate an account's webhook signing secret.",
        subcommands: [Get.self, Rotate.self]
    )

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the current signing secret.")

        @Option(help: "The account id.")
        var account: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.GetSigningSecret.self,
                AuthV1.GetSigningSecretRequest(),
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) { response.signingSecret }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new signing secret current; the old one stays valid for the overlap."
        )

        @Option(help: "The account id.")
        var account: String

        @Option(help: "Seconds the old secret stays valid (default: the auth component's setting).")
        var overlapSeconds: Int64?

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            var request = AuthV1.RotateSigningSecretRequest()
            request.overlapSeconds = overlapSeconds
            let response = try await operatorCall(
                socket: options.authPath,
                AuthV1.Auth.RotateSigningSecret.self,
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                "\(response.signingSecret)   (previous secret valid until \(timeText(response.previousValidUntil)))"
            }
        }
    }
}
