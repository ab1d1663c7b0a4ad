/// How often the client's pending calls, and the server's future calls, are
/// checked against their deadlines: a call ends with DEADLINE_EXCEEDED at
/// most this long after its deadline. One sweep per interval instead of a
/// timer per call, whose scheduling and cancelling would cost more than
/// many a call's own work.
enum RPCDeadlines {
    static let resolution: Duration = .milliseconds(10)
}
