import ArgumentParser
import HarepostProto

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
            guard ["live", "test"].contains(environment) else {
                throw ValidationError("--environment must be live or test")
            }
        }

        func run() async throws {
            var request = try ProtoMessage("harepost.auth.v1.CreateAccountRequest", ["name": .string(name)])
            try request.set("environment", enumName: environment)
            let response = try await operatorCall(
                socket: options.authPath,
                "harepost.auth.v1.Auth/CreateAccount",
                request,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                """
                account         \(response.string("id") ?? "")
                name            \(response.string("name") ?? "")
                api key         \(response.string("api_key") ?? "")   (shown only now: store it)
                signing secret  \(response.string("signing_secret") ?? "")
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
            let request = try ProtoMessage(
                "harepost.auth.v1.SetRateLimitRequest",
                ["rate_limit_per_minute": .int32(Int32(clamping: perMinute))]
            )
            let response = try await operatorCall(
                socket: options.authPath,
                "harepost.auth.v1.Auth/SetRateLimit",
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                let limit = response.int64("rate_limit_per_minute") ?? 0
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
            guard ["live", "test"].contains(environment) else {
                throw ValidationError("--environment must be live or test")
            }
        }

        func run() async throws {
            var request = try ProtoMessage("harepost.auth.v1.CreateApiKeyRequest")
            try request.set("environment", enumName: environment)
            let response = try await operatorCall(
                socket: options.authPath,
                "harepost.auth.v1.Auth/CreateApiKey",
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                "\(response.string("api_key") ?? "")   (key \(response.message("key")?.string("id") ?? ""); shown only now: store it)"
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
                "harepost.auth.v1.Auth/ListApiKeys",
                try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                table(
                    ["ID", "PREFIX", "ENV", "CREATED", "LAST USED", "REVOKED"],
                    response.values("data").compactMap(\.messageValue).map { key in
                        [
                            key.string("id") ?? "", key.string("prefix") ?? "", key.enumName("environment") ?? "",
                            timeText(key, "created_at"), timeText(key, "last_used_at"), timeText(key, "revoked_at"),
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
            let request = try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest", ["id": .string(keyID)])
            let response = try await operatorCall(
                socket: options.authPath,
                "harepost.auth.v1.Auth/RevokeApiKey",
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
                "harepost.auth.v1.Auth/GetSigningSecret",
                try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest"),
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) { response.string("signing_secret") ?? "" }
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
            let request = try ProtoMessage(
                "harepost.auth.v1.RotateSigningSecretRequest",
                ["overlap_seconds": overlapSeconds.map(ProtoValue.int64)]
            )
            let response = try await operatorCall(
                socket: options.authPath,
                "harepost.auth.v1.Auth/RotateSigningSecret",
                request,
                account: account,
                timeout: options.timeout
            )
            output(response, json: options.json) {
                "\(response.string("signing_secret") ?? "")   (previous secret valid until \(timeText(response, "previous_valid_until")))"
            }
        }
    }
}
