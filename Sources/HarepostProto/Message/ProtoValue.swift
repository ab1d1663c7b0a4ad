/// One value of a message field.
public enum ProtoValue: Sendable, Equatable {
    case int32(Int32)
    case int64(Int64)
    case uint32(UInt32)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case bool(Bool)
    /// An enum value by number (proto3 enums are open: unknown numbers are kept).
    case enumValue(Int32)
    case string(String)
    case bytes([UInt8])
    case message(ProtoMessage)

    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { value } else { nil }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    public var messageValue: ProtoMessage? {
        if case .message(let value) = self { value } else { nil }
    }

    public var enumNumber: Int32? {
        if case .enumValue(let value) = self { value } else { nil }
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .float(let value): Double(value)
        default: nil
        }
    }

    /// Any integer kind, when it fits an `Int64`.
    public var int64Value: Int64? {
        switch self {
        case .int32(let value): Int64(value)
        case .int64(let value): value
        case .uint32(let value): Int64(value)
        case .uint64(let value): Int64(exactly: value)
        case .enumValue(let value): Int64(value)
        default: nil
        }
    }

    /// Whether this value fits a field of `kind` (and, for messages, `messageType`).
    func fits(_ field: FieldDescriptor) -> Bool {
        switch (self, field.kind) {
        case (.int32, .int32), (.int32, .sint32), (.int32, .sfixed32): true
        case (.int64, .int64), (.int64, .sint64), (.int64, .sfixed64): true
        case (.uint32, .uint32), (.uint32, .fixed32): true
        case (.uint64, .uint64), (.uint64, .fixed64): true
        case (.float, .float), (.double, .double), (.bool, .bool): true
        case (.enumValue, .enum), (.string, .string), (.bytes, .bytes): true
        case (.message(let message), .message): message.descriptor == field.messageType
        default: false
        }
    }

    /// The value a proto3 field without presence has when unset.
    static func defaultValue(for field: FieldDescriptor) -> ProtoValue? {
        switch field.kind {
        case .int32, .sint32, .sfixed32: .int32(0)
        case .int64, .sint64, .sfixed64: .int64(0)
        case .uint32, .fixed32: .uint32(0)
        case .uint64, .fixed64: .uint64(0)
        case .float: .float(0)
        case .double: .double(0)
        case .bool: .bool(false)
        case .enum: .enumValue(0)
        case .string: .string("")
        case .bytes: .bytes([])
        case .message: nil
        }
    }
}

extension FieldDescriptor.Kind {
    /// How the kind is named in error messages.
    public var displayName: String {
        switch self {
        case .int32, .sint32, .sfixed32: "a 32-bit integer"
        case .int64, .sint64, .sfixed64: "a 64-bit integer"
        case .uint32, .fixed32: "an unsigned 32-bit integer"
        case .uint64, .fixed64: "an unsigned 64-bit integer"
        case .float, .double: "a number"
        case .bool: "a boolean"
        case .enum: "an enum value"
        case .string: "a string"
        case .bytes: "bytes"
        case .message: "a message"
        }
    }
}
