import HarepostContracts
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
        let response = try await auth.call(
            AuthV1.Auth.ListSigningSecrets.self,
            AuthV1.ListSigningSecretsRequest(),
            options: RPCCallOptions(
                timeout: .seconds(5),
                metadata: [RPCMetadataKey.accountID: accountID],
                idempotent: true
            )
        )
        let previous = response.previous.map { entry in
            (secret: entry.signingSecret, validUntil: entry.validUntil?.unixMilliseconds ?? 0)
        }
        return Entry(current: response.signingSecret, previous: previous, fetchedAt: .now)
    }
}
