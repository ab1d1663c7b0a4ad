/// How often the client's pending calls, and the server's future calls, are
/// checked against their deadlines: a call ends with DEADLINE_EXCEEDED at
/// most this long after its deadline. One sweep per interval replaces a
/// timer per call (scheduling and cancelling those was 7% of the gateway's
/// CPU per request and 3% of the store's, docs/benchmarks.md).
enum RPCDeadlines {
    static let resolution: Duration = .milliseconds(10)
}
