/// A JSON value that does not fit the message it is meant to become.
public struct JSONBridgeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field's path from the top message, e.g. `delivery.max_attempts` or
    /// `headers.X-Order`; empty for the top level.
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }
}
