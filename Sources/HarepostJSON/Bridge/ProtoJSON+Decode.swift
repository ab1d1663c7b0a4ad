public import HarepostProto

import struct Foundation.Data

extension ProtoJSON {
    // MARK: JSON → message

    /// Parses JSON bytes into a message of `descriptor`'s type.
    public static func decode(_ bytes: some Collection<UInt8>, as descriptor: MessageDescriptor) throws(JSONBridgeError)
        -> ProtoMessage
    {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw JSONBridgeError(field: "", reason: error.description)
        }
        return try decode(json, as: descriptor)
    }

    public static func decode(_ json: JSONValue, as descriptor: MessageDescriptor) throws(JSONBridgeError)
        -> ProtoMessage
    {
        try decodeMessage(json, as: descriptor, path: "")
    }

    /// Merges the members of a JSON object into `message` (the gateway binds a
    /// request body this way on top of path and query values).
    public static func merge(_ json: JSONValue, into message: inout ProtoMessage) throws(JSONBridgeError) {
        guard case .object(let members) = json else {
            throw JSONBridgeError(field: "", reason: "expected a JSON object, got \(json.typeName)")
        }
        for (key, value) in members {
            guard let field = message.descriptor.field(named: key) else {
                throw JSONBridgeError(field: key, reason: "unknown field")
            }
            try decode(value, into: &message, field: field, path: key)
        }
    }

    static func decodeMessage(_ json: JSONValue, as descriptor: MessageDescriptor, path: String) throws(JSONBridgeError)
        -> ProtoMessage
    {
        if let special = try decodeWellKnown(json, as: descriptor, path: path) { return special }
        guard case .object(let members) = json else {
            throw JSONBridgeError(field: path, reason: "expected an object, got \(json.typeName)")
        }
        var message = ProtoMessage(descriptor)
        for (key, value) in members {
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            guard let field = descriptor.field(named: key) else {
                throw JSONBridgeError(field: fieldPath, reason: "unknown field")
            }
            try decode(value, into: &message, field: field, path: fieldPath)
        }
        return message
    }

    static func decode(_ json: JSONValue, into message: inout ProtoMessage, field: FieldDescriptor, path: String)
        throws(JSONBridgeError)
    {
        if json == .null, field.messageType?.fullName != "google.protobuf.Value" {
            message.clear(field)
            return
        }
        do {
            if field.isMap {
                guard case .object(let members) = json, let entryType = field.messageType else {
                    throw JSONBridgeError(field: path, reason: "expected an object, got \(json.typeName)")
                }
                var entries: [ProtoValue] = []
                for (key, value) in members {
                    var entry = ProtoMessage(entryType)
                    let keyField = entryType.fields[0]
                    let valueField = entryType.fields[1]
                    try entry.set(keyField, try decodeText(key, for: keyField, path: "\(path).\(key)"))
                    try entry.set(valueField, try decodeValue(value, for: valueField, path: "\(path).\(key)"))
                    entries.append(.message(entry))
                }
                try message.set(field, values: entries)
            } else if field.isRepeated {
                guard case .array(let elements) = json else {
                    throw JSONBridgeError(field: path, reason: "expected an array, got \(json.typeName)")
                }
                var values: [ProtoValue] = []
                values.reserveCapacity(elements.count)
                for (index, element) in elements.enumerated() {
                    values.append(try decodeValue(element, for: field, path: "\(path)[\(index)]"))
                }
                try message.set(field, values: values)
            } else {
                try message.set(field, try decodeValue(json, for: field, path: path))
            }
        } catch let error as JSONBridgeError {
            throw error
        } catch {
            // decodeValue only produces values that fit the field.
            throw JSONBridgeError(field: path, reason: "\(error)")
        }
    }

    static func decodeValue(_ json: JSONValue, for field: FieldDescriptor, path: String) throws(JSONBridgeError)
        -> ProtoValue
    {
        func mismatch() -> JSONBridgeError {
            JSONBridgeError(field: path, reason: "expected \(field.kind.displayName), got \(json.typeName)")
        }
        switch field.kind {
        case .int32, .sint32, .sfixed32:
            guard let value = integer(json, in: Int64(Int32.min)...Int64(Int32.max), path: path) else {
                throw mismatch()
            }
            return .int32(Int32(value))
        case .int64, .sint64, .sfixed64:
            guard let value = integer(json, in: Int64.min...Int64.max, path: path) else { throw mismatch() }
            return .int64(value)
        case .uint32, .fixed32:
            guard let value = integer(json, in: 0...Int64(UInt32.max), path: path) else { throw mismatch() }
            return .uint32(UInt32(value))
        case .uint64, .fixed64:
            guard let value = integer(json, in: 0...Int64.max, path: path) else { throw mismatch() }
            return .uint64(UInt64(value))
        case .float, .double:
            let number: Double
            switch json {
            case .integer(let v): number = Double(v)
            case .double(let v): number = v
            default: throw mismatch()
            }
            return field.kind == .float ? .float(Float(number)) : .double(number)
        case .bool:
            guard case .bool(let value) = json else { throw mismatch() }
            return .bool(value)
        case .string:
            guard case .string(let value) = json else { throw mismatch() }
            return .string(value)
        case .bytes:
            guard case .string(let value) = json else { throw mismatch() }
            guard let data = Data(base64Encoded: value) else {
                throw JSONBridgeError(field: path, reason: "expected base64-encoded bytes")
            }
            return .bytes(Array(data))
        case .enum:
            guard case .string(let name) = json else { throw mismatch() }
            return try enumValue(name, for: field, path: path)
        case .message:
            guard let type = field.messageType else { throw mismatch() }
            return .message(try decodeMessage(json, as: type, path: path))
        }
    }

    static func enumValue(_ name: String, for field: FieldDescriptor, path: String) throws(JSONBridgeError)
        -> ProtoValue
    {
        guard let type = field.enumType else {
            throw JSONBridgeError(field: path, reason: "expected an enum value")
        }
        // An `…_UNSPECIFIED` value means "not given"; it is never a choice.
        let choices = type.values.filter { !$0.name.hasSuffix("_UNSPECIFIED") }
        guard let value = type.value(jsonName: name), !value.name.hasSuffix("_UNSPECIFIED") else {
            let list = choices.map { "\"\($0.jsonName)\"" }.joined(separator: ", ")
            throw JSONBridgeError(field: path, reason: "must be one of \(list)")
        }
        return .enumValue(value.number)
    }

    /// A JSON number that is a whole number within `range`, or `nil` for another type.
    private static func integer(_ json: JSONValue, in range: ClosedRange<Int64>, path: String) -> Int64? {
        switch json {
        case .integer(let value): return range.contains(value) ? value : nil
        case .double(let value):
            guard let exact = Int64(exactly: value), range.contains(exact) else { return nil }
            return exact
        default: return nil
        }
    }

    private static func decodeWellKnown(_ json: JSONValue, as descriptor: MessageDescriptor, path: String)
        throws(JSONBridgeError) -> ProtoMessage?
    {
        do {
            switch descriptor.fullName {
            case "google.protobuf.Timestamp":
                guard case .string(let text) = json, let (seconds, nanos) = RFC3339.parse(text) else {
                    throw JSONBridgeError(
                        field: path,
                        reason: "expected an RFC 3339 timestamp such as \"2026-06-10T14:22:10Z\""
                    )
                }
                return ProtoMessage.timestamp(seconds: seconds, nanos: nanos)
            case "google.protobuf.Struct":
                guard case .object(let members) = json else {
                    throw JSONBridgeError(field: path, reason: "expected an object, got \(json.typeName)")
                }
                var message = ProtoMessage(descriptor)
                let entryType = descriptor.fields[0].messageType!
                var entries: [ProtoValue] = []
                for (key, value) in members {
                    var entry = ProtoMessage(entryType)
                    try entry.set("key", .string(key))
                    try entry.set("value", .message(try jsonValueMessage(value, path: "\(path).\(key)")))
                    entries.append(.message(entry))
                }
                try message.set("fields", values: entries)
                return message
            case "google.protobuf.ListValue":
                guard case .array(let elements) = json else {
                    throw JSONBridgeError(field: path, reason: "expected an array, got \(json.typeName)")
                }
                var message = ProtoMessage(descriptor)
                var values: [ProtoValue] = []
                for (index, element) in elements.enumerated() {
                    values.append(.message(try jsonValueMessage(element, path: "\(path)[\(index)]")))
                }
                try message.set("values", values: values)
                return message
            case "google.protobuf.Value":
                return try jsonValueMessage(json, path: path)
            default:
                return nil
            }
        } catch let error as JSONBridgeError {
            throw error
        } catch {
            throw JSONBridgeError(field: path, reason: "\(error)")
        }
    }

    /// Any JSON value as a `google.protobuf.Value`.
    private static func jsonValueMessage(_ json: JSONValue, path: String) throws -> ProtoMessage {
        var value = try ProtoMessage("google.protobuf.Value")
        let descriptor = value.descriptor
        switch json {
        case .null: try value.set("null_value", .enumValue(0))
        case .bool(let v): try value.set("bool_value", .bool(v))
        case .integer(let v): try value.set("number_value", .double(Double(v)))
        case .double(let v): try value.set("number_value", .double(v))
        case .string(let v): try value.set("string_value", .string(v))
        case .object:
            let structType = descriptor.field(named: "struct_value")!.messageType!
            try value.set("struct_value", .message(try decodeMessage(json, as: structType, path: path)))
        case .array:
            let listType = descriptor.field(named: "list_value")!.messageType!
            try value.set("list_value", .message(try decodeMessage(json, as: listType, path: path)))
        }
        return value
    }
}
