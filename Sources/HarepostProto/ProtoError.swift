/// Errors from building, packing or unpacking messages.
public enum ProtoError: Error, Equatable, Sendable {
    /// No message type of that full name is compiled from `proto/`.
    case unknownMessage(String)
    /// The message has no field of that name.
    case unknownField(message: String, field: String)
    /// A value of the wrong type for the field.
    case typeMismatch(message: String, field: String, expected: String)
    /// The bytes are not a valid encoding of the message type.
    case malformed(message: String)
    /// The encoding nests messages deeper than ``ProtoMessage/maximumNestingDepth``.
    case nestingTooDeep(message: String)
    /// A string field's bytes are not UTF-8.
    case invalidUTF8(message: String, field: String)
}

extension ProtoError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownMessage(let name): "unknown message type \(name)"
        case .unknownField(let message, let field): "\(message) has no field \"\(field)\""
        case .typeMismatch(let message, let field, let expected): "\(message).\(field) expects \(expected)"
        case .malformed(let message): "bytes are not a valid \(message)"
        case .nestingTooDeep(let message): "\(message) nests messages too deeply"
        case .invalidUTF8(let message, let field): "\(message).\(field) is not valid UTF-8"
        }
    }
}
