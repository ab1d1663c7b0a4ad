/// A JSON value that does not fit the message it is meant to become.
public struct JSONBridgeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field's path from the top message, e.g. `delivery.max_attempts`,
    /// `headers.X-Order` or `items[2].name`; empty for the top level.
    public let field: String
    public let reason: String
    /// Whether `field` begins with an array index, which an enclosing key
    /// joins without a dot.
    private var startsWithIndex = false

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field.isEmpty ? reason : "\(field): \(reason)" }

    public static func == (lhs: JSONBridgeError, rhs: JSONBridgeError) -> Bool {
        lhs.field == rhs.field && lhs.reason == rhs.reason
    }

    /// This error as seen from the object that holds the value under `key`.
    func under(_ key: String) -> JSONBridgeError {
        if key.isEmpty { return self }
        return JSONBridgeError(
            field: field.isEmpty ? key : startsWithIndex ? key + field : "\(key).\(field)",
            reason: reason
        )
    }

    /// This error as seen from the array that holds the value at `index`.
    func under(index: Int) -> JSONBridgeError {
        let segment = "[\(index)]"
        var error = JSONBridgeError(
            field: field.isEmpty ? segment : startsWithIndex ? segment + field : "\(segment).\(field)",
            reason: reason
        )
        error.startsWithIndex = true
        return error
    }
}
