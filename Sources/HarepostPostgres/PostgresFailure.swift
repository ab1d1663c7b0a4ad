public import PostgresNIO

/// What a PostgreSQL error says, for the services that keep their data in it.
public enum PostgresFailure {
    /// Why the database cannot serve right now, when `error` says so (it is
    /// unreachable, shutting down, out of disk or connections), rather than
    /// something about one request; nil otherwise.
    public static func storageReason(_ error: any Error) -> String? {
        let error = underlying(error)
        if error is PostgresUnavailable { return "\(error)" }
        guard let error = error as? PSQLError else { return nil }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler:
            return "the database connection failed (\(error.code))"
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            // Connection exceptions, insufficient resources (disk full, too
            // many connections), operator intervention (shutdown,
            // recovery), system errors.
            guard ["08", "53", "57", "58"].contains(String(state.prefix(2))) else { return nil }
            return "the database refused: \(error.serverInfo?[.message] ?? state) (SQLSTATE \(state))"
        default:
            return nil
        }
    }

    /// Whether `error` is a unique-constraint violation (SQLSTATE 23505).
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        (underlying(error) as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    /// Whether `error` is a serialization failure or deadlock (40001, 40P01),
    /// after which the transaction may simply be run again.
    public static func isRetryable(_ error: any Error) -> Bool {
        let state = (underlying(error) as? PSQLError)?.serverInfo?[.sqlState]
        return state == "40001" || state == "40P01"
    }

    /// The error inside a transaction's wrapper: what failed, not where.
    public static func underlying(_ error: any Error) -> any Error {
        guard let transaction = error as? PostgresTransactionError else { return error }
        return transaction.closureError ?? transaction.commitError ?? transaction.beginError ?? error
    }
}

/// No connection could be had within the operation's bound: the database is
/// down or unreachable.
public struct PostgresUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
