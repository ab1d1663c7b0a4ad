import HarepostContracts
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
        var request = AuthV1.AuthenticateRequest()
        request.apiKey = key
        let response = try await auth.call(
            AuthV1.Auth.Authenticate.self,
            request,
            options: RPCCallOptions(timeout: timeout, metadata: [RPCMetadataKey.requestID: requestID], idempotent: true)
        )
        let principal = Principal(
            accountID: response.accountID,
            // The call metadata's value, as the store expects it ("live", "test").
            environment: response.environment.jsonName,
            rateLimitPerMinute: Int(response.rateLimitPerMinute)
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
