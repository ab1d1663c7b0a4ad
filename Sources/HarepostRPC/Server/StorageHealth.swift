public import Logging
import NIOConcurrencyHelpers
import Synchronization

/// Whether a service's storage takes writes, from what its writes meet; the
/// store and auth each keep one.
///
/// A call that fails because of the storage itself (a full disk, an I/O
/// error: what `classify` recognises) puts the service out of service: the
/// call is answered UNAVAILABLE (the gateway's 503 with `Retry-After`),
/// health says NOT_SERVING (``RPCRouter/isServing``; the gateway's `/readyz`
/// 503), and the cause is logged once, not per call. The next write that
/// succeeds, or a `probe` write that health checks start at most once a
/// second while out of service, puts it back, logged once too. Nothing else
/// changes: a write that failed was not acknowledged, and what was
/// acknowledged stays stored.
public final class StorageHealth: Sendable {
    private let classify: @Sendable (any Error) -> String?
    private let probe: @Sendable () async throws -> Void
    /// Read on every send's success: only a failing store takes the lock.
    private let failing = Atomic<Bool>(false)
    private let state = NIOLockedValueBox(State())

    private struct State {
        var failure: String?
        /// The logger of the call that met the failure, for the recovery line.
        var logger: Logger?
        var lastProbe: ContinuousClock.Instant?
        var probing = false
    }

    /// - Parameters:
    ///   - classify: why storage cannot work, when an error says so; nil otherwise.
    ///   - probe: a small durable write.
    public init(
        classify: @escaping @Sendable (any Error) -> String?,
        probe: @escaping @Sendable () async throws -> Void
    ) {
        self.classify = classify
        self.probe = probe
    }

    /// The status for `error` when it is a storage failure (which it
    /// records); nil when it is not one.
    public func status(for error: any Error, logger: Logger) -> RPCError? {
        guard let reason = classify(error) else { return nil }
        let first = state.withLockedValue { state in
            defer {
                state.failure = reason
                state.logger = state.logger ?? logger
            }
            return state.failure == nil
        }
        failing.store(true, ordering: .releasing)
        if first {
            logger.error(
                "storage cannot write; answering UNAVAILABLE until it can",
                metadata: ["error.reason": "\(reason)", "error": "\(error)"]
            )
        }
        return RPCError.unavailable("storage cannot write (\(reason)); retry shortly")
    }

    /// A write succeeded: back in service if it was out.
    public func succeeded() {
        guard failing.load(ordering: .acquiring) else { return }
        let (reason, logger) = state.withLockedValue { state in
            defer {
                state.failure = nil
                state.logger = nil
            }
            return (state.failure, state.logger)
        }
        failing.store(false, ordering: .releasing)
        if let reason { logger?.notice("storage writes again", metadata: ["error.reason": "\(reason)"]) }
    }

    /// For health checks: whether the service is in service. While it is
    /// not, starts a probe write (at most one a second, never two at once).
    public func isServing() -> Bool {
        guard failing.load(ordering: .acquiring) else { return true }
        let now = ContinuousClock.now
        let prober = state.withLockedValue { state -> Logger? in
            guard !state.probing, state.lastProbe.map({ now - $0 >= .seconds(1) }) ?? true else { return nil }
            state.probing = true
            state.lastProbe = now
            return state.logger
        }
        if let logger = prober {
            Task {
                do {
                    try await probe()
                    succeeded()
                } catch {
                    _ = status(for: error, logger: logger)
                }
                state.withLockedValue { $0.probing = false }
            }
        }
        return false
    }
}
