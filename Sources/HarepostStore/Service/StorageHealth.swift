import Foundation
import HarepostRPC
import Logging
import NIOConcurrencyHelpers
import Synchronization

/// Whether the store's storage takes writes, from what the writes meet.
///
/// A write that fails because of the storage itself (a full disk, an I/O
/// error: ``StorageEngine/storageFailure(_:)``) puts the store out of
/// service: the call is answered UNAVAILABLE (the gateway's 503 with
/// `Retry-After`), health says NOT_SERVING (the gateway's `/readyz` 503), and
/// the cause is logged once, not per call. The next write that succeeds, or
/// a probe write that health checks start at most once a second while out of
/// service, puts it back, logged once too. Nothing else changes: a write that
/// failed was not acknowledged, and what was acknowledged stays stored.
final class StorageHealth: Sendable {
    private let engine: any StorageEngine
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

    init(engine: any StorageEngine) {
        self.engine = engine
    }

    /// The status for `error` when it is a storage failure (which it
    /// records); nil when it is not one.
    func status(for error: any Error, logger: Logger) -> RPCError? {
        guard let reason = engine.storageFailure(error) else { return nil }
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
        return RPCError.unavailable("the store cannot write (\(reason)); retry shortly")
    }

    /// A write succeeded: back in service if it was out.
    func succeeded() {
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

    /// For health checks: whether the store is in service. While it is not,
    /// starts a probe write (at most one a second, never two at once).
    func isServing() -> Bool {
        guard failing.load(ordering: .acquiring) else { return true }
        let now = ContinuousClock.now
        let probe = state.withLockedValue { state -> Logger? in
            guard !state.probing, state.lastProbe.map({ now - $0 >= .seconds(1) }) ?? true else { return nil }
            state.probing = true
            state.lastProbe = now
            return state.logger
        }
        if let logger = probe {
            Task {
                do {
                    try await engine.probeWrite()
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
