import HarepostProto
import HarepostRPC

/// The accounts' signing secrets, fetched from auth (`ListSigningSecrets`) and
/// kept for `timeToLive`, so a burst of signed deliveries costs one RPC. A
/// rotation reaches signatures within `timeToLive`; the previous secret stays
/// valid far longer (auth's overlap), so receivers never see a gap.
actor SigningSecrets {
    struct Entry {
        let current: String
        let previous: [(secret: String, validUntil: UnixMilliseconds)]
        let fetchedAt: ContinuousClock.Instant
    }

    let auth: any RPCCaller
    let timeToLive: Duration
    private var entries: [String: Entry] = [:]

    init(auth: any RPCCaller, timeToLive: Duration = .seconds(60)) {
        self.auth = auth
        self.timeToLive = timeToLive
    }

    /// Every secret valid at `now`, current first.
    func secrets(accountID: String, now: UnixMilliseconds) async throws(RPCError) -> [String] {
        let entry: Entry
        if let cached = entries[accountID], cached.fetchedAt.duration(to: .now) < timeToLive {
            entry = cached
        } else {
            entry = try await fetch(accountID)
            entries[accountID] = entry
        }
        return [entry.current] + entry.previous.filter { $0.validUntil > now }.map(\.secret)
    }

    private func fetch(_ accountID: String) async throws(RPCError) -> Entry {
        let request: ProtoMessage
        do {
            request = try ProtoMessage("harepost.auth.v1.ListSigningSecretsRequest")
        } catch {
            throw RPCError(.internal, "\(error)")
        }
        let response = try await auth.call(
            "harepost.auth.v1.Auth/ListSigningSecrets",
            request,
            options: RPCCallOptions(
                timeout: .seconds(5),
                metadata: [RPCMetadataKey.accountID: accountID],
                idempotent: true
            )
        )
        let previous = response.values("previous").compactMap(\.messageValue).map { message in
            (
                secret: message.string("signing_secret") ?? "",
                validUntil: message.message("valid_until")?.unixMilliseconds ?? 0
            )
        }
        return Entry(current: response.string("signing_secret") ?? "", previous: previous, fetchedAt: .now)
    }
}
