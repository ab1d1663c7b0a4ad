import ArgumentParser
import HarepostJSON

/// `harepost send`: POST /v1/send through the gateway.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Queue a webhook for delivery (POST /v1/send); prints its queue id."
    )

    @Option(help: "Where to deliver (https://…; http:// and loopback only under `up --dev`).")
    var target: String

    @Option(help: "POST, PUT, PATCH, DELETE or GET.")
    var method: String = "POST"

    @Option(
        name: .customLong("header"),
        help: ArgumentHelp("A header to forward (repeatable).", valueName: "name: value")
    )
    var headers: [String] = []

    @Option(help: "The body, sent as is.")
    var body: String?

    @Option(help: "A JSON body: an object is sent as JSON with Content-Type: application/json.")
    var bodyJson: String?

    @Option(help: "Sends with the same key return the first delivery instead of a new one.")
    var idempotencyKey: String?

    @Flag(help: "Add X-Harepost-Signature (HMAC-SHA256 with the account's signing secret).")
    var sign = false

    @Option(
        name: .customLong("metadata"),
        help: ArgumentHelp("Stored with the delivery, never sent (repeatable).", valueName: "key=value")
    )
    var metadata: [String] = []

    @Option(help: "Attempts before dead-lettering (1-25).")
    var maxAttempts: Int?

    @Option(help: "exponential or fixed.")
    var backoff: String?

    @Option(help: "First retry delay in ms (100-60000).")
    var baseDelayMs: Int?

    @Option(help: "Largest retry delay in ms.")
    var maxDelayMs: Int?

    @Option(help: "full or none.")
    var jitter: String?

    @Option(help: "Per-attempt timeout in ms (1000-30000).")
    var timeoutMs: Int?

    @OptionGroup var options: PublicAPIOptions

    func validate() throws {
        guard body == nil || bodyJson == nil else { throw ValidationError("pass --body or --body-json, not both") }
        if let bodyJson, (try? JSONParser.parse(bodyJson)) == nil {
            throw ValidationError("--body-json is not valid JSON")
        }
        for header in headers where !header.contains(":") {
            throw ValidationError("--header \(header): expected name: value")
        }
        for entry in metadata where !entry.contains("=") {
            throw ValidationError("--metadata \(entry): expected key=value")
        }
    }

    /// The request body; the API validates and clamps every value.
    var request: JSONValue {
        var fields: [(key: String, value: JSONValue)] = [("target", .string(target)), ("method", .string(method))]
        if !headers.isEmpty {
            fields.append(
                (
                    "headers",
                    .object(
                        headers.map { header in
                            let parts = header.split(separator: ":", maxSplits: 1)
                            return (
                                String(parts[0]).trimmingWhitespace,
                                .string(parts.count > 1 ? String(parts[1]).trimmingWhitespace : "")
                            )
                        }
                    )
                )
            )
        }
        if let body { fields.append(("body", .string(body))) }
        if let bodyJson, let value = try? JSONParser.parse(bodyJson) { fields.append(("body", value)) }
        if let idempotencyKey { fields.append(("idempotency_key", .string(idempotencyKey))) }
        if sign { fields.append(("sign", .bool(true))) }
        if !metadata.isEmpty {
            fields.append(
                (
                    "metadata",
                    .object(
                        metadata.map { entry in
                            let parts = entry.split(separator: "=", maxSplits: 1)
                            return (String(parts[0]), .string(parts.count > 1 ? String(parts[1]) : ""))
                        }
                    )
                )
            )
        }
        var policy: [(key: String, value: JSONValue)] = []
        if let maxAttempts { policy.append(("max_attempts", .integer(Int64(maxAttempts)))) }
        if let backoff { policy.append(("backoff", .string(backoff))) }
        if let baseDelayMs { policy.append(("base_delay_ms", .integer(Int64(baseDelayMs)))) }
        if let maxDelayMs { policy.append(("max_delay_ms", .integer(Int64(maxDelayMs)))) }
        if let jitter { policy.append(("jitter", .string(jitter))) }
        if let timeoutMs { policy.append(("timeout_ms", .integer(Int64(timeoutMs)))) }
        if !policy.isEmpty { fields.append(("delivery", .object(policy))) }
        return .object(fields)
    }

    func run() async throws {
        let answer = try await options.call("POST", "/v1/send", body: request)
        options.output(answer) {
            "\(answer.json["status"].cellText) \(answer.json["queue_id"].cellText)   (created \(answer.json["created_at"].cellText))"
        }
    }
}

/// `harepost deliveries get|list`: the Harepost lookup API.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Look deliveries up (GET /v1/deliveries).",
        subcommands: [Get.self, List.self]
    )

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one delivery and its attempts.")

        @Argument(help: "The queue id (hr_…).")
        var queueID: String

        @OptionGroup var options: PublicAPIOptions

        func run() async throws {
            let answer = try await options.call("GET", "/v1/deliveries/\(PublicAPIOptions.percentEncoded(queueID))")
            options.output(answer) {
                let delivery = answer.json
                var lines = [
                    "delivery         \(delivery["queue_id"].cellText)",
                    "status           \(delivery["status"].cellText)   (last HTTP status \(delivery["last_status"].cellText))",
                    "target           \(delivery["method"].cellText) \(delivery["target"].cellText)",
                    "idempotency key  \(delivery["idempotency_key"].cellText)",
                    "created          \(delivery["created_at"].cellText)",
                    "updated          \(delivery["updated_at"].cellText)",
                ]
                if case .array(let attempts)? = delivery["attempts"], !attempts.isEmpty {
                    lines += [
                        "",
                        table(
                            ["ATTEMPT", "OUTCOME", "HTTP", "LATENCY MS", "AT", "ERROR"],
                            attempts.map { attempt in
                                ["attempt", "outcome", "http_status", "latency_ms", "created_at", "error"].map {
                                    attempt[$0].cellText
                                }
                            }
                        ),
                    ]
                } else {
                    lines.append("no attempts yet")
                }
                return lines.joined(separator: "\n")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")

        @Option(help: "Only this status: queued, retrying, delivered, rejected or dead_letter.")
        var status: String?

        @Option(help: "Page size (1-100).")
        var limit: Int?

        @Option(help: "The next_cursor of the previous page.")
        var cursor: String?

        @OptionGroup var options: PublicAPIOptions

        func run() async throws {
            let answer = try await options.call(
                "GET",
                "/v1/deliveries",
                query: [("status", status), ("limit", limit.map { "\($0)" }), ("cursor", cursor)]
            )
            options.output(answer) {
                guard case .array(let deliveries)? = answer.json["data"], !deliveries.isEmpty else {
                    return "no deliveries"
                }
                var text = table(
                    ["QUEUE ID", "STATUS", "ATTEMPTS", "LAST", "CREATED", "TARGET"],
                    deliveries.map { delivery in
                        [
                            delivery["queue_id"].cellText, delivery["status"].cellText, delivery["attempts"].cellText,
                            delivery["last_status"].cellText, delivery["created_at"].cellText,
                            "\(delivery["method"].cellText) \(delivery["target"].cellText)",
                        ]
                    }
                )
                if case .string(let next)? = answer.json["next_cursor"] { text += "\nmore: --cursor \(next)" }
                return text
            }
        }
    }
}

/// `harepost attempts list`: the hookstream-style attempts API.
struct AttemptsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attempts",
        abstract: "Look delivery attempts up (GET /v1/delivery-attempts).",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List attempts, newest first.")

        @Option(help: "Only the attempts of this delivery (its queue id, the event id).")
        var delivery: String?

        @Option(help: "Only this attempt status (successful or failed).")
        var status: String?

        @Flag(help: "Only dead-lettered attempts.")
        var dlq = false

        @Option(help: "Page size (1-100).")
        var limit: Int?

        @Option(help: "Attempts to skip.")
        var offset: Int?

        @OptionGroup var options: PublicAPIOptions

        func run() async throws {
            let answer = try await options.call(
                "GET",
                "/v1/delivery-attempts",
                query: [
                    ("event_id", delivery), ("status", status), ("is_dlq", dlq ? "1" : nil),
                    ("limit", limit.map { "\($0)" }), ("offset", offset.map { "\($0)" }),
                ]
            )
            options.output(answer) {
                guard case .array(let attempts)? = answer.json["delivery_attempts"], !attempts.isEmpty else {
                    return "no attempts"
                }
                var text = table(
                    ["ID", "DELIVERY", "#", "STATUS", "HTTP", "MS", "TRIGGER", "CREATED", "ERROR"],
                    attempts.map { attempt in
                        [
                            "id", "event_id", "attempt_number", "status", "response_status", "duration_ms",
                            "trigger_type", "created_at", "error",
                        ].map { attempt[$0].cellText }
                    }
                )
                if let pagination = answer.json["pagination"] {
                    text +=
                        "\n\(attempts.count) of \(pagination["total"].cellText)"
                        + (pagination["has_more"] == .bool(true)
                            ? "; more: --offset \((offset ?? 0) + attempts.count)" : "")
                }
                return text
            }
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
