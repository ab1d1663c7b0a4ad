import Foundation
import GRDB
import HarepostProto

/// The values of one `SQLiteStatements.insertDelivery`, put together on the
/// caller's thread and bound on the writer's, parameter by parameter.
///
/// The writer is the one serial stage of every send. GRDB's
/// `StatementArguments` boxes each value as an existential on the way in and
/// converts it to a `DatabaseValue` on the way to the statement (together 5%
/// of the store's CPU per send, a third of it on the writer,
/// docs/benchmarks.md step 34); these typed fields bind through GRDB's
/// `StatementBinding` straight to SQLite.
struct DeliveryInsertRow: Sendable {
    let queueID: String
    let accountID: String
    let environment: String
    let target: String
    let method: String
    let headersJSON: String
    let body: Data
    let metadataJSON: String?
    let sign: Bool
    let idempotencyKey: String?
    let policy: DeliveryPolicy
    let createdAt: UnixMilliseconds
    let requestID: String?

    init(_ delivery: NewDelivery, headersJSON: String) {
        queueID = delivery.queueID
        accountID = delivery.tenant.accountID
        environment = delivery.tenant.environment
        target = delivery.target
        method = delivery.method
        self.headersJSON = headersJSON
        body = Data(delivery.body)
        metadataJSON = delivery.metadataJSON
        sign = delivery.sign
        idempotencyKey = delivery.idempotencyKey
        policy = delivery.policy
        createdAt = delivery.createdAt
        requestID = delivery.requestID
    }

    /// Binds the statement's 23 parameters, in `insertDelivery`'s column order,
    /// so that `statement.execute()` resets and steps it with these values.
    func bind(to statement: Statement, connectionID: String, destinationID: String) throws {
        // Clears the previous send's bindings and tells GRDB the statement's
        // arguments are set (none of its own), so `execute()` does not bind
        // or validate again.
        statement.setUncheckedArguments(StatementArguments())
        var binder = Binder(statement: statement.sqliteStatement)
        try binder.bind(queueID)
        try binder.bind(accountID)
        try binder.bind(environment)
        try binder.bind(target)
        try binder.bind(method)
        try binder.bind(headersJSON)
        try binder.bind(body)
        try binder.bind(metadataJSON)
        try binder.bind(sign)
        try binder.bind(idempotencyKey)
        try binder.bind(policy.maxAttempts)
        try binder.bind(policy.backoff)
        try binder.bind(policy.baseDelayMilliseconds)
        try binder.bind(policy.maxDelayMilliseconds)
        try binder.bind(policy.jitter)
        try binder.bind(policy.timeoutMilliseconds)
        try binder.bind(policy.respectRetryAfter)
        // created_at, updated_at, next_attempt_at: due at once.
        try binder.bind(createdAt)
        try binder.bind(createdAt)
        try binder.bind(createdAt)
        try binder.bind(requestID)
        try binder.bind(connectionID)
        try binder.bind(destinationID)
        precondition(binder.index == Self.parameterCount, "insertDelivery has \(Self.parameterCount) parameters")
    }

    /// The `?` parameters of `insertDelivery`.
    static let parameterCount: CInt = 23

    /// Binds values to consecutive parameters of a statement.
    private struct Binder {
        let statement: SQLiteStatement
        /// The parameter bound last (1-based).
        private(set) var index: CInt = 0

        init(statement: SQLiteStatement) {
            self.statement = statement
        }

        mutating func bind(_ value: some StatementBinding) throws {
            index += 1
            let code = value.bind(to: statement, at: index)
            guard code == ResultCode.SQLITE_OK.rawValue else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "binding parameter \(index)")
            }
        }

        mutating func bind(_ value: String?) throws {
            if let value { try bind(value) } else { try bind(DatabaseValue.null) }
        }
    }
}
