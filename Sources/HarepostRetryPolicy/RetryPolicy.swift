/// What to do after an attempt: the one place retry timing and outcomes are
/// decided. Pure and clock-free: the caller passes the time and the randomness.
public struct RetryPolicy: Sendable, Equatable {
    public enum Backoff: String, Sendable { case exponential, fixed }
    public enum Jitter: String, Sendable { case full, none }

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

    /// The attempt's outcome and the delivery's next step.
    public struct Decision: Sendable, Equatable {
        /// `delivered`, `failed`, `rejected`, `timeout`, `connection_error` or `blocked`.
        public let outcome: String
        /// `delivered`, `retrying`, `rejected` or `dead_letter`.
        public let newStatus: String
        /// Milliseconds until the next attempt, when `retrying`.
        public let delayMilliseconds: Int64?

        public init(outcome: String, newStatus: String, delayMilliseconds: Int64?) {
            self.outcome = outcome
            self.newStatus = newStatus
            self.delayMilliseconds = delayMilliseconds
        }
    }

    /// Decides after attempt number `attempt` (1-based). `random` is a uniform
    /// value in [0, 1) used for full jitter.
    public func decide(after attempt: Int, result: Result, random: Double) -> Decision {
        let outcome: String
        switch result {
        case .response(let status, _) where (200...299).contains(status):
            return Decision(outcome: "delivered", newStatus: "delivered", delayMilliseconds: nil)
        case .response(let status, _) where status >= 500 || status == 408 || status == 429:
            outcome = "failed"
        case .response:
            return Decision(outcome: "rejected", newStatus: "rejected", delayMilliseconds: nil)
        case .timeout:
            outcome = "timeout"
        case .connectionError:
            outcome = "connection_error"
        case .blocked:
            return Decision(outcome: "blocked", newStatus: "dead_letter", delayMilliseconds: nil)
        }
        guard attempt < maxAttempts else {
            return Decision(outcome: outcome, newStatus: "dead_letter", delayMilliseconds: nil)
        }
        if respectRetryAfter, case .response(_, let retryAfter?) = result {
            return Decision(outcome: outcome, newStatus: "retrying", delayMilliseconds: max(0, retryAfter))
        }
        return Decision(
            outcome: outcome,
            newStatus: "retrying",
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
