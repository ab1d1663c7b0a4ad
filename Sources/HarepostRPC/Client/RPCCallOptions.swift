/// Per-call settings.
public struct RPCCallOptions: Sendable {
    /// How long the caller waits; the server is told and cancels the handler then.
    /// `nil` waits forever (only for calls that are bounded by other means).
    public var timeout: Duration?
    public var metadata: [String: String]
    /// Whether the method may run twice. Only such calls are retried after a
    /// connection is lost mid-call; any call is retried when it provably never
    /// left this process.
    public var idempotent: Bool

    public init(timeout: Duration? = .seconds(10), metadata: [String: String] = [:], idempotent: Bool = false) {
        self.timeout = timeout
        self.metadata = metadata
        self.idempotent = idempotent
    }
}
