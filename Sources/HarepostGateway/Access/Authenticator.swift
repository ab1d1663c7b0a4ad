import HarepostProto
import HarepostRPC
import NIOConcurrencyHelpers

/// Who an API key belongs to, as auth's `Authenticate` says.
struct Principal: Sendable {
    let accountID: String
    let environment: String
    /// Requests per minute; 0 means unlimited.
    let rateLimitPerMinute: Int
}

/// Turns API keys into principals through auth, caching each answer for
/// `timeToLive` so a busy client costs auth one call per key per TTL. A revoked
/// key stops working within the TTL. Unknown keys are not cached.
final class Authenticator: Sendable {
    struct Entry {
        let principal: Principal
        let expires: ContinuousClock.Instant
    }

    let auth: any RPCCaller
    let timeToLive: Duration
    let timeout: Duration
    private let cache = NIOLockedValueBox([String: Entry]())
    static let maximumCachedKeys = 100_000

    init(auth: any RPCCaller, timeToLive: Duration, timeout: Duration) {
        self.auth = auth
        self.timeToLive = timeToLive
        self.timeout = timeout
    }

    /// The key's principal when a fresh answer for it is cached.
    func cachedPrincipal(for key: String) -> Principal? {
        guard let entry = cache.withLockedValue({ $0[key] }), entry.expires > .now else { return nil }
        return entry.principal
    }

    func principal(for key: String, requestID: String) async throws(RPCError) -> Principal {
        let now = ContinuousClock.now
        if let principal = cachedPrincipal(for: key) { return principal }
        let request: ProtoMessage
        do {
            request = try ProtoMessage("harepost.auth.v1.AuthenticateRequest", ["api_key": .string(key)])
        } catch {
            throw RPCError(.internal, "\(error)")
        }
        let response = try await auth.call(
            "harepost.auth.v1.Auth/Authenticate",
            request,
            options: RPCCallOptions(timeout: timeout, metadata: [RPCMetadataKey.requestID: requestID], idempotent: true)
        )
        let principal = Principal(
            accountID: response.string("account_id") ?? "",
            environment: response.enumName("environment") ?? "live",
            rateLimitPerMinute: Int(response.int64("rate_limit_per_minute") ?? 0)
        )
        cache.withLockedValue { cache in
            if cache.count >= Self.maximumCachedKeys {
                cache = cache.filter { $0.value.expires > now }
                if cache.count >= Self.maximumCachedKeys { cache.removeAll() }
            }
            cache[key] = Entry(principal: principal, expires: now + timeToLive)
        }
        return principal
    }
}
