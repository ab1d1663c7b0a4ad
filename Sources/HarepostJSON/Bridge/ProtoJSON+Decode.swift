public import HarepostProto
import HarepostTime

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
        try decodeMessage(json, as: descriptor)
    }

    /// Merges the members of a JSON object into `message` (the gateway binds a
    /// request body this way on top of path and query values).
    public static func merge(_ json: JSONValue, into message: inout ProtoMessage) throws(JSONBridgeError) {
        guard case .object(let members) = json else {
            throw JSONBridgeError(field: "", reason: "expected a JSON object, got \(json.typeName)")
        }
        try merge(members, into: &message)
    }

    // The decoders below name the failing field relative to the value they
    // decode; each level prefixes its key on the way out (``JSONBridgeError/under(_:)``),
    // so a path string is built only for an error.

    private static func merge(_ members: [(key: String, value: JSONValue)], into message: inout ProtoMessage)
        throws(JSONBridgeError)
    {
        for (key, value) in members {
            guard let field = message.descriptor.field(named: key) else {
                throw JSONBridgeError(field: key, reason: "unknown field")
            }
            do {
                try decode(value, into: &message, field: field)
            } catch {
                throw error.under(key)
            }
        }
    }

    static func decodeMessage(_ json: JSONValue, as descriptor: MessageDescriptor) throws(JSONBridgeError)
        -> ProtoMessage
    {
        if let wellKnown = descriptor.wellKnownType { return try decodeWellKnown(json, as: wellKnown) }
        guard case .object(let members) = json else {
            throw JSONBridgeError(field: "", reason: "expected an object, got \(json.typeName)")
        }
        var message = ProtoMessage(descriptor)
        try merge(members, into: &message)
        return message
    }

    static func decode(_ json: JSONValue, into message: inout ProtoMessage, field: FieldDescriptor)
        throws(JSONBridgeError)
    {
        if json == .null, field.messageType?.wellKnownType != .value {
            message.clear(field)
            return
        }
        do {
            if field.isMap {
                guard case .object(let members) = json, let entryType = field.messageType else {
                    throw JSONBridgeError(field: "", reason: "expected an object, got \(json.typeName)")
                }
                let keyField = entryType.fields[0]
                let valueField = entryType.fields[1]
                var entries: [ProtoValue] = []
                entries.reserveCapacity(members.count)
                for (key, value) in members {
                    var entry = ProtoMessage(entryType)
                    do {
                        try entry.set(keyField, try decodeText(key, for: keyField, path: ""))
                        try entry.set(valueField, try decodeValue(value, for: valueField))
                    } catch let error as JSONBridgeError {
                        throw error.under(key)
                    }
                    entries.append(.message(entry))
                }
                try message.set(field, values: entries)
            } else if field.isRepeated {
                guard case .array(let elements) = json else {
                    throw JSONBridgeError(field: "", reason: "expected an array, got \(json.typeName)")
                }
                var values: [ProtoValue] = []
                values.reserveCapacity(elements.count)
                for (index, element) in elements.enumerated() {
                    do {
                        values.append(try decodeValue(element, for: field))
                    } catch {
                        throw error.under(index: index)
                    }
                }
                try message.set(field, values: values)
            } else {
                try message.set(field, try decodeValue(json, for: field))
            }
        } catch let error as JSONBridgeError {
            throw error
        } catch {
            // decodeValue only produces values that fit the field.
            throw JSONBridgeError(field: "", reason: "\(error)")
        }
    }

    static func decodeValue(_ json: JSONValue, for field: FieldDescriptor) throws(JSONBridgeError) -> ProtoValue {
        func mismatch() -> JSONBridgeError {
            JSONBridgeError(field: "", reason: "expected \(field.kind.displayName), got \(json.typeName)")
        }
        switch field.kind {
        case .int32, .sint32, .sfixed32:
            guard let value = integer(json, in: Int64(Int32.min)...Int64(Int32.max)) else { throw mismatch() }
            return .int32(Int32(value))
        case .int64, .sint64, .sfixed64:
            guard let value = integer(json, in: Int64.min...Int64.max) else { throw mismatch() }
            return .int64(value)
        case .uint32, .fixed32:
            guard let value = integer(json, in: 0...Int64(UInt32.max)) else { throw mismatch() }
            return .uint32(UInt32(value))
        case .uint64, .fixed64:
            guard let value = integer(json, in: 0...Int64.max) else { throw mismatch() }
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
                throw JSONBridgeError(field: "", reason: "expected base64-encoded bytes")
            }
            return .bytes(Array(data))
        case .enum:
            guard case .string(let name) = json else { throw mismatch() }
            return try enumValue(name, for: field, path: "")
        case .message:
            guard let type = field.messageType else { throw mismatch() }
            return .message(try decodeMessage(json, as: type))
        }
    }

    static func enumValue(_ name: String, for field: FieldDescriptor, path: String) throws(JSONBridgeError)
        -> ProtoValue
    {
        guard let type = field.enumType else {
            throw JSONBridgeError(field: path, reason: "expected an enum value")
        }
        // An `…_UNSPECIFIED` value means "not given"; it is never a choice.
        guard let value = type.value(jsonName: name), !value.name.hasSuffix("_UNSPECIFIED") else {
            let choices = type.values.filter { !$0.name.hasSuffix("_UNSPECIFIED") }
            let list = choices.map { "\"\($0.jsonName)\"" }.joined(separator: ", ")
            throw JSONBridgeError(field: path, reason: "must be one of \(list)")
        }
        return .enumValue(value.number)
    }

    /// A JSON number that is a whole number within `range`, or `nil` for another type.
    private static func integer(_ json: JSONValue, in range: ClosedRange<Int64>) -> Int64? {
        switch json {
        case .integer(let value): return range.contains(value) ? value : nil
        case .double(let value):
            // A number the parser could not hold as Int64 (`1e3`, `5.0`, or
            // one past Int64's range) is a double; past 2^53 a double is
            // rounded, so -9223372036854775809 would pass as Int64.min.
            guard value.magnitude < 9_007_199_254_740_992, let exact = Int64(exactly: value), range.contains(exact)
            else { return nil }
            return exact
        default: return nil
        }
    }

    private static func decodeWellKnown(_ json: JSONValue, as type: WellKnownType) throws(JSONBridgeError)
        -> ProtoMessage
    {
        switch type {
        case .timestamp:
            guard case .string(let text) = json, let (seconds, nanos) = RFC3339.parse(text) else {
                throw JSONBridgeError(
                    field: "",
                    reason: "expected an RFC 3339 timestamp such as \"2026-06-10T14:22:10Z\""
                )
            }
            return ProtoMessage.timestamp(seconds: seconds, nanos: nanos)
        case .struct:
            guard case .object(let members) = json else {
                throw JSONBridgeError(field: "", reason: "expected an object, got \(json.typeName)")
            }
            return try structMessage(members)
        case .listValue:
            guard case .array(let elements) = json else {
                throw JSONBridgeError(field: "", reason: "expected an array, got \(json.typeName)")
            }
            return try listMessage(elements)
        case .value:
            return try valueMessage(json)
        }
    }

    private static func structMessage(_ members: [(key: String, value: JSONValue)]) throws(JSONBridgeError)
        -> ProtoMessage
    {
        let types = WellKnownFields.shared
        var entries: [ProtoValue] = []
        entries.reserveCapacity(members.count)
        for (key, value) in members {
            var entry = ProtoMessage(types.structEntry)
            try set(&entry, types.structEntryKey, .string(key))
            do {
                try set(&entry, types.structEntryValue, .message(try valueMessage(value)))
            } catch {
                throw error.under(key)
            }
            entries.append(.message(entry))
        }
        var message = ProtoMessage(types.struct)
        try set(&message, types.structFields, values: entries)
        return message
    }

    private static func listMessage(_ elements: [JSONValue]) throws(JSONBridgeError) -> ProtoMessage {
        let types = WellKnownFields.shared
        var values: [ProtoValue] = []
        values.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            do {
                values.append(.message(try valueMessage(element)))
            } catch {
                throw error.under(index: index)
            }
        }
        var message = ProtoMessage(types.listValue)
        try set(&message, types.listValues, values: values)
        return message
    }

    /// Any JSON value as a `google.protobuf.Value`.
    private static func valueMessage(_ json: JSONValue) throws(JSONBridgeError) -> ProtoMessage {
        let types = WellKnownFields.shared
        var value = ProtoMessage(types.value)
        switch json {
        case .null: try set(&value, types.nullValue, .enumValue(0))
        case .bool(let v): try set(&value, types.boolValue, .bool(v))
        case .integer(let v): try set(&value, types.numberValue, .double(Double(v)))
        case .double(let v): try set(&value, types.numberValue, .double(v))
        case .string(let v): try set(&value, types.stringValue, .string(v))
        case .object(let members): try set(&value, types.structValue, .message(try structMessage(members)))
        case .array(let elements): try set(&value, types.listValueField, .message(try listMessage(elements)))
        }
        return value
    }
}

extension ProtoJSON {
    /// Sets a value the bridge built to fit the field (a mismatch would be a
    /// bug here, reported as a bridge error rather than a crash).
    fileprivate static func set(_ message: inout ProtoMessage, _ field: FieldDescriptor, _ value: ProtoValue)
        throws(JSONBridgeError)
    {
        do { try message.set(field, value) } catch { throw JSONBridgeError(field: "", reason: "\(error)") }
    }

    fileprivate static func set(_ message: inout ProtoMessage, _ field: FieldDescriptor, values: [ProtoValue])
        throws(JSONBridgeError)
    {
        do { try message.set(field, values: values) } catch { throw JSONBridgeError(field: "", reason: "\(error)") }
    }
}

/// The descriptors and fields of `Struct`, `ListValue` and `Value`, looked up
/// once: the bridge builds and reads these for every JSON body.
struct WellKnownFields: Sendable {
    static let shared = WellKnownFields()

    let `struct`: MessageDescriptor
    let structFields: FieldDescriptor
    let structEntry: MessageDescriptor
    let structEntryKey: FieldDescriptor
    let structEntryValue: FieldDescriptor
    let listValue: MessageDescriptor
    let listValues: FieldDescriptor
    let value: MessageDescriptor
    let nullValue: FieldDescriptor
    let numberValue: FieldDescriptor
    let stringValue: FieldDescriptor
    let boolValue: FieldDescriptor
    let structValue: FieldDescriptor
    let listValueField: FieldDescriptor

    private init() {
        // Every program that links the bridge compiles google/protobuf/struct.proto.
        `struct` = MessageDescriptor.named(WellKnownType.struct.rawValue)!
        structFields = `struct`.field(named: "fields")!
        structEntry = structFields.messageType!
        structEntryKey = structEntry.field(named: "key")!
        structEntryValue = structEntry.field(named: "value")!
        listValue = MessageDescriptor.named(WellKnownType.listValue.rawValue)!
        listValues = listValue.field(named: "values")!
        value = MessageDescriptor.named(WellKnownType.value.rawValue)!
        nullValue = value.field(named: "null_value")!
        numberValue = value.field(named: "number_value")!
        stringValue = value.field(named: "string_value")!
        boolValue = value.field(named: "bool_value")!
        structValue = value.field(named: "struct_value")!
        listValueField = value.field(named: "list_value")!
    }
}
