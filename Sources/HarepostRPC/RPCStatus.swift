/// gRPC's canonical status codes (the numbers of `harepost.rpc.v1.Code`).
public enum RPCCode: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16

    /// The proto name, e.g. `DEADLINE_EXCEEDED`.
    public var description: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }
}

/// A call that ended with a status other than OK. Handlers throw it to answer
/// with that status; clients receive it. Its message reaches the caller, so it
/// must never carry internal detail (any other error a handler throws is
/// answered as INTERNAL with a generic message and logged on the server).
public struct RPCError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: RPCCode
    public var message: String

    public init(_ code: RPCCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func invalidArgument(_ message: String) -> RPCError { RPCError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> RPCError { RPCError(.notFound, message) }
    public static func unavailable(_ message: String) -> RPCError { RPCError(.unavailable, message) }
    public static func unauthenticated(_ message: String) -> RPCError { RPCError(.unauthenticated, message) }
    public static func failedPrecondition(_ message: String) -> RPCError { RPCError(.failedPrecondition, message) }
    public static func permissionDenied(_ message: String) -> RPCError { RPCError(.permissionDenied, message) }
}

/// Well-known metadata keys (always lower-case).
public enum RPCMetadataKey {
    /// Correlates one public request across every process it touches.
    public static let requestID = "x-request-id"
    /// The authenticated account a call acts for.
    public static let accountID = "harepost-account-id"
    /// The environment (`live` or `test`) of the key that authenticated the call.
    public static let environment = "harepost-environment"
    /// `public` when the gateway makes the call on behalf of an HTTP client.
    public static let origin = "harepost-origin"
}
