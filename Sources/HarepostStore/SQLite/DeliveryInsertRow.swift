import Foundation
import GRDB

/// The values of one `SQLiteStatements.insertDelivery`, put together on the
/// caller's thread and bound on the writer's, parameter by parameter.
///
/// The writer is the one serial stage of every send. GRDB's
/// `StatementArguments` boxes each value as an existential on the way in and
/// converts it to a `DatabaseValue` on the way to the statement, work the
/// serial writer should not do; the delivery's typed fields bind through
/// GRDB's `StatementBinding` straight to SQLite.
struct DeliveryInsertRow: Sendable {
    let delivery: NewDelivery
    let headersJSON: String
    /// The body as the blob GRDB binds.
    let body: Data

    init(_ delivery: NewDelivery, headersJSON: String) {
        self.delivery = delivery
        self.headersJSON = headersJSON
        body = Data(delivery.body)
    }

    /// Binds the statement's 23 parameters, in `insertDelivery`'s column order,
    /// so that `statement.execute()` resets and steps it with these values.
    func bind(to statement: Statement, connectionID: String, destinationID: String) throws {
        // Clears the previous send's bindings and tells GRDB the statement's
        // arguments are set (none of its own), so `execute()` does not bind
        // or validate again.
        statement.setUncheckedArguments(StatementArguments())
        var binder = Binder(statement: statement.sqliteStatement)
        let policy = delivery.policy
        try binder.bind(delivery.queueID)
        try binder.bind(delivery.tenant.accountID)
        try binder.bind(delivery.tenant.environment)
        try binder.bind(delivery.target)
        try binder.bind(delivery.method)
        try binder.bind(headersJSON)
        try binder.bind(body)
        try binder.bind(delivery.metadataJSON)
        try binder.bind(delivery.sign)
        try binder.bind(delivery.idempotencyKey)
        try binder.bind(policy.maxAttempts)
        try binder.bind(policy.backoff)
        try binder.bind(policy.baseDelayMilliseconds)
        try binder.bind(policy.maxDelayMilliseconds)
        try binder.bind(policy.jitter)
        try binder.bind(policy.timeoutMilliseconds)
        try binder.bind(policy.respectRetryAfter)
        // created_at, updated_at, next_attempt_at: due at once.
        try binder.bind(delivery.createdAt)
        try binder.bind(delivery.createdAt)
        try binder.bind(delivery.createdAt)
        try binder.bind(delivery.requestID)
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
