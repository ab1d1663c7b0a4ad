public import HarepostProto

extension ProtoJSON {
    /// Converts a path segment or query value to a value of `field`'s type, e.g.
    /// `limit=50` into an int32 or `status=dead_letter` into an enum. `path` names
    /// the parameter in errors.
    public static func decodeText(_ text: String, for field: FieldDescriptor, path: String) throws(JSONBridgeError)
        -> ProtoValue
    {
        func invalid() -> JSONBridgeError {
            JSONBridgeError(field: path, reason: "expected \(field.kind.displayName), got \"\(text)\"")
        }
        switch field.kind {
        case .int32, .sint32, .sfixed32:
            guard let value = Int32(text) else { throw invalid() }
            return .int32(value)
        case .int64, .sint64, .sfixed64:
            guard let value = Int64(text) else { throw invalid() }
            return .int64(value)
        case .uint32, .fixed32:
            guard let value = UInt32(text) else { throw invalid() }
            return .uint32(value)
        case .uint64, .fixed64:
            guard let value = UInt64(text) else { throw invalid() }
            return .uint64(value)
        case .float:
            guard let value = Float(text), value.isFinite else { throw invalid() }
            return .float(value)
        case .double:
            guard let value = Double(text), value.isFinite else { throw invalid() }
            return .double(value)
        case .bool:
            switch text {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default: throw invalid()
            }
        case .string:
            return .string(text)
        case .enum:
            return try enumValue(text, for: field, path: path)
        case .bytes, .message:
            if field.messageType?.wellKnownType == .timestamp {
                do {
                    return try decodeValue(.string(text), for: field)
                } catch {
                    throw error.under(path)
                }
            }
            throw JSONBridgeError(field: path, reason: "cannot be given as text")
        }
    }
}
