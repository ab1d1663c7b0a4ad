public import HarepostProto

import struct Foundation.Data

/// The JSON bridge: messages to JSON and JSON to messages, by walking descriptors.
///
/// The mapping (also in docs/json-bridge.md):
/// - keys are proto field names; every field appears in rendered JSON, in
///   declaration order; an absent field with presence renders as `null`;
/// - integers (including 64-bit) are JSON numbers; enums are their lower-case
///   names without the type prefix (`…_UNSPECIFIED` renders as `null`); bytes are base64;
/// - repeated fields are arrays; `map<string, V>` fields are objects;
/// - `google.protobuf.Timestamp` is an RFC 3339 UTC string with `Z`;
///   `Struct`, `Value` and `ListValue` are the JSON they hold.
///
/// Decoding is strict: unknown keys and values of the wrong type are errors that
/// name the field; `null` leaves a field unset.
public enum ProtoJSON {
    // MARK: Message → JSON

    public static func encode(_ message: ProtoMessage) -> JSONValue {
        if let special = encodeWellKnown(message) { return special }
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(message.descriptor.fields.count)
        for field in message.descriptor.fields {
            members.append((field.name, encode(field, of: message)))
        }
        return .object(members)
    }

    /// Renders a message as JSON bytes.
    public static func encodeBytes(_ message: ProtoMessage) -> [UInt8] {
        JSONWriter.bytes(encode(message))
    }

    static func encode(_ field: FieldDescriptor, of message: ProtoMessage) -> JSONValue {
        if field.isMap {
            let entries = message.values(of: field).compactMap(\.messageValue)
            return .object(
                entries.map { entry in
                    let keyField = entry.descriptor.fields[0]
                    let valueField = entry.descriptor.fields[1]
                    let key = entry.value(of: keyField).map(mapKey) ?? ""
                    return (key, encode(valueField, of: entry))
                }
            )
        }
        if field.isRepeated {
            return .array(message.values(of: field).map { encode($0, field) })
        }
        guard let value = message.value(of: field) else { return .null }
        return encode(value, field)
    }

    static func encode(_ value: ProtoValue, _ field: FieldDescriptor) -> JSONValue {
        switch value {
        case .int32(let v): .integer(Int64(v))
        case .int64(let v): .integer(v)
        case .uint32(let v): .integer(Int64(v))
        case .uint64(let v): Int64(exactly: v).map(JSONValue.integer) ?? .double(Double(v))
        case .float(let v): .double(Double(v))
        case .double(let v): .double(v)
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .bytes(let v): .string(Data(v).base64EncodedString())
        case .enumValue(let number):
            // `…_UNSPECIFIED` means unknown, which is `null` in the public shapes.
            field.enumType?.value(number: number).map {
                $0.name.hasSuffix("_UNSPECIFIED") ? .null : .string($0.jsonName)
            }
                ?? .integer(Int64(number))
        case .message(let message): encode(message)
        }
    }

    private static func mapKey(_ value: ProtoValue) -> String {
        switch value {
        case .string(let v): v
        case .bool(let v): v ? "true" : "false"
        default: value.int64Value.map { String($0) } ?? ""
        }
    }

    private static func encodeWellKnown(_ message: ProtoMessage) -> JSONValue? {
        guard let type = message.descriptor.wellKnownType else { return nil }
        let types = WellKnownFields.shared
        switch type {
        case .timestamp:
            let (seconds, nanos) = message.timestampValue ?? (0, 0)
            return .string(RFC3339.format(seconds: seconds, nanos: nanos))
        case .struct:
            return .object(
                message.values(of: types.structFields).compactMap(\.messageValue).map { entry in
                    (
                        entry.value(of: types.structEntryKey)?.stringValue ?? "",
                        entry.value(of: types.structEntryValue)?.messageValue.map(encode) ?? .null
                    )
                }
            )
        case .listValue:
            return .array(message.values(of: types.listValues).compactMap(\.messageValue).map(encode))
        case .value:
            // A oneof: at most one member is set, and an unset member has no value.
            if let number = message.value(of: types.numberValue)?.doubleValue {
                return Int64(exactly: number).map(JSONValue.integer) ?? .double(number)
            }
            if let string = message.value(of: types.stringValue)?.stringValue { return .string(string) }
            if let bool = message.value(of: types.boolValue)?.boolValue { return .bool(bool) }
            if let structValue = message.value(of: types.structValue)?.messageValue { return encode(structValue) }
            if let listValue = message.value(of: types.listValueField)?.messageValue { return encode(listValue) }
            return .null
        }
    }
}
