/// What to do after an attempt: the one place retry timing and outcomes are
/// decided. Pure and clock-free: the caller passes the time and the randomness.
public struct RetryPolicy: Sendable, Equatable {
    public enum Backoff: Sendable { case exponential, fixed }
    public enum Jitter: Sendable { case full, none }

    public var maxAttempts: Int
    public var backoff: Backoff
    public var baseDelayMilliseconds: Int64
    public var maxDelayMilliseconds: Int64
    public var jitter: Jitter
    public var respectRetryAfter: Bool

    public init(
        maxAttempts: Int,
        backoff: Backoff,
        baseDelayMilliseconds: Int64,
        maxDelayMilliseconds: Int64,
        jitter: Jitter,
        respectRetryAfter: Bool
    ) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.baseDelayMilliseconds = baseDelayMilliseconds
        self.maxDelayMilliseconds = maxDelayMilliseconds
        self.jitter = jitter
        self.respectRetryAfter = respectRetryAfter
    }

    /// How one attempt ended, as the dispatcher observed it.
    public enum Result: Sendable, Equatable {
        case response(status: Int, retryAfterMilliseconds: Int64?)
        case timeout
        case connectionError
        /// The connected address was internal: never retried.
        case blocked
    }

    /// What an attempt came to (the contracts' `AttemptOutcome`).
    public enum Outcome: Sendable, Equatable {
        case delivered, failed, rejected, timeout, connectionError, blocked
    }

    /// The delivery's status after an attempt (the contracts' `DeliveryStatus`).
    public enum NextStatus: Sendable, Equatable {
        case delivered, retrying, rejected, deadLetter
    }

    /// The attempt's outcome and the delivery's next step.
    public struct Decision: Sendable, Equatable {
        public let outcome: Outcome
        public let newStatus: NextStatus
        /// Milliseconds until the next attempt, when `retrying`.
        public let delayMilliseconds: Int64?

        public init(outcome: Outcome, newStatus: NextStatus, delayMilliseconds: Int64?) {
            self.outcome = outcome
            self.newStatus = newStatus
            self.delayMilliseconds = delayMilliseconds
        }
    }

    /// Decides after attempt number `attempt` (1-based). `random` is a uniform
    /// value in [0, 1) used for full jitter.
    public func decide(after attempt: Int, result: Result, random: Double) -> Decision {
        let outcome: Outcome
        switch result {
        case .response(let status, _) where (200...299).contains(status):
            return Decision(outcome: .delivered, newStatus: .delivered, delayMilliseconds: nil)
        case .response(let status, _) where status >= 500 || status == 408 || status == 429:
            outcome = .failed
        case .response:
            return Decision(outcome: .rejected, newStatus: .rejected, delayMilliseconds: nil)
        case .timeout:
            outcome = .timeout
        case .connectionError:
            outcome = .connectionError
        case .blocked:
            return Decision(outcome: .blocked, newStatus: .deadLetter, delayMilliseconds: nil)
        }
        guard attempt < maxAttempts else {
            return Decision(outcome: outcome, newStatus: .deadLetter, delayMilliseconds: nil)
        }
        if respectRetryAfter, case .response(_, let retryAfter?) = result {
            return Decision(outcome: outcome, newStatus: .retrying, delayMilliseconds: max(0, retryAfter))
        }
        return Decision(
            outcome: outcome,
            newStatus: .retrying,
            delayMilliseconds: nextDelay(after: attempt, random: random)
        )
    }

    /// base × 2^(attempt−1) capped at the maximum (exponential) or the base
    /// (fixed); with full jitter, uniform in [0, that ceiling].
    public func nextDelay(after attempt: Int, random: Double) -> Int64 {
        var ceiling = baseDelayMilliseconds
        if backoff == .exponential {
            let doublings = min(max(attempt - 1, 0), 62)
            let (scaled, overflow) = baseDelayMilliseconds.multipliedReportingOverflow(by: Int64(1) << doublings)
            ceiling = overflow ? maxDelayMilliseconds : min(scaled, maxDelayMilliseconds)
        }
        ceiling = min(ceiling, maxDelayMilliseconds)
        guard jitter == .full else { return ceiling }
        return Int64((Double(ceiling) * min(max(random, 0), 1)).rounded(.down))
    }
}
