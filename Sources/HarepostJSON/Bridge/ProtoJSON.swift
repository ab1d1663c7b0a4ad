public import HarepostProto
import HarepostTime

import struct Foundation.Data

/// The JSON bridge: messages to JSON and JSON to messages, by walking descriptors.
///
/// The mapping (also in docs/contracts.md, "The JSON bridge"):
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

    /// Renders a message as JSON bytes, written straight from the message:
    /// the gateway renders every answer and the store every send's body this
    /// way, and building a ``JSONValue`` tree first costs more than writing.
    public static func encodeBytes(_ message: ProtoMessage) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(message, to: &output)
        return output
    }

    /// The message as a JSON value: its bytes (``encodeBytes(_:)``, the one
    /// encoder) read back, for callers that look into the document.
    public static func encode(_ message: ProtoMessage) -> JSONValue {
        // No depth limit: the writer has just recursed as deep.
        do {
            return try JSONParser.parse(encodeBytes(message), maximumDepth: .max)
        } catch {
            preconditionFailure("ProtoJSON wrote JSON it cannot read back: \(error)")
        }
    }

    /// Appends the message's JSON to `output`.
    public static func write(_ message: ProtoMessage, to output: inout [UInt8]) {
        if writeWellKnown(message, to: &output) { return }
        output.append(UInt8(ascii: "{"))
        for field in message.descriptor.fields {
            if field.index > 0 { output.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(utf8: field.nameUTF8, to: &output)
            output.append(UInt8(ascii: ":"))
            write(field, of: message, to: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    private static func write(_ field: FieldDescriptor, of message: ProtoMessage, to output: inout [UInt8]) {
        if field.isMap {
            output.append(UInt8(ascii: "{"))
            var first = true
            forEachLastEntry(message.values(of: field)) { entry in
                entry.value(of: entry.descriptor.fields[0]).map(mapKey) ?? ""
            } _: { key, entry in
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                JSONWriter.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                write(entry.descriptor.fields[1], of: entry, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        } else if field.isRepeated {
            output.append(UInt8(ascii: "["))
            for (index, value) in message.values(of: field).enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(value, field, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        } else if let value = message.value(of: field) {
            write(value, field, to: &output)
        } else {
            output.append(contentsOf: "null".utf8)
        }
    }

    private static func write(_ value: ProtoValue, _ field: FieldDescriptor, to output: inout [UInt8]) {
        switch value {
        case .int32(let v): JSONWriter.writeInteger(Int64(v), to: &output)
        case .int64(let v): JSONWriter.writeInteger(v, to: &output)
        case .uint32(let v): JSONWriter.writeInteger(Int64(v), to: &output)
        case .uint64(let v):
            if let exact = Int64(exactly: v) {
                JSONWriter.writeInteger(exact, to: &output)
            } else {
                JSONWriter.writeDouble(Double(v), to: &output)
            }
        case .float(let v): JSONWriter.writeDouble(Double(v), to: &output)
        case .double(let v): JSONWriter.writeDouble(v, to: &output)
        case .bool(let v): output.append(contentsOf: (v ? "true" : "false").utf8)
        case .string(let v): JSONWriter.writeString(v, to: &output)
        case .bytes(let v): JSONWriter.writeString(Data(v).base64EncodedString(), to: &output)
        case .enumValue(let number):
            // `…_UNSPECIFIED` means unknown, which is `null` in the public shapes.
            if let known = field.enumType?.value(number: number) {
                if known.name.hasSuffix("_UNSPECIFIED") {
                    output.append(contentsOf: "null".utf8)
                } else {
                    JSONWriter.writeString(known.jsonName, to: &output)
                }
            } else {
                JSONWriter.writeInteger(Int64(number), to: &output)
            }
        case .message(let message): write(message, to: &output)
        }
    }

    /// Calls `body` with each map entry whose key no later entry repeats: on
    /// the wire a map may repeat a key and the last entry wins (the protobuf
    /// rule), and a JSON object may not repeat one. Maps are small: up to 16
    /// entries the later keys are compared in place, with no allocation.
    private static func forEachLastEntry(
        _ values: [ProtoValue],
        key: (ProtoMessage) -> String,
        _ body: (String, ProtoMessage) -> Void
    ) {
        if values.count <= 16 {
            for index in values.indices {
                guard case .message(let entry) = values[index] else { continue }
                let entryKey = key(entry)
                let repeated = values[(index + 1)...].contains { later in
                    if case .message(let laterEntry) = later { key(laterEntry) == entryKey } else { false }
                }
                if !repeated { body(entryKey, entry) }
            }
            return
        }
        let entries = values.compactMap(\.messageValue)
        let keys = entries.map(key)
        var last: [String: Int] = [:]
        for (index, entryKey) in keys.enumerated() { last[entryKey] = index }
        for (index, entry) in entries.enumerated() where last[keys[index]] == index {
            body(keys[index], entry)
        }
    }

    private static func mapKey(_ value: ProtoValue) -> String {
        switch value {
        case .string(let v): v
        case .bool(let v): v ? "true" : "false"
        default: value.int64Value.map { String($0) } ?? ""
        }
    }

    /// Writes a well-known type's JSON form; false for other messages.
    private static func writeWellKnown(_ message: ProtoMessage, to output: inout [UInt8]) -> Bool {
        guard let type = message.descriptor.wellKnownType else { return false }
        let types = WellKnownFields.shared
        switch type {
        case .timestamp:
            let (seconds, nanos) = message.timestampValue ?? (0, 0)
            JSONWriter.writeString(RFC3339.format(seconds: seconds, nanos: nanos), to: &output)
        case .struct:
            output.append(UInt8(ascii: "{"))
            var first = true
            forEachLastEntry(message.values(of: types.structFields)) { entry in
                entry.value(of: types.structEntryKey)?.stringValue ?? ""
            } _: { key, entry in
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                JSONWriter.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                if let value = entry.value(of: types.structEntryValue)?.messageValue {
                    write(value, to: &output)
                } else {
                    output.append(contentsOf: "null".utf8)
                }
            }
            output.append(UInt8(ascii: "}"))
        case .listValue:
            output.append(UInt8(ascii: "["))
            var first = true
            for case .message(let element) in message.values(of: types.listValues) {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                write(element, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .value:
            // A oneof: at most one member is set, and an unset member has no value.
            if let number = message.value(of: types.numberValue)?.doubleValue {
                if let exact = Int64(exactly: number) {
                    JSONWriter.writeInteger(exact, to: &output)
                } else {
                    JSONWriter.writeDouble(number, to: &output)
                }
            } else if let string = message.value(of: types.stringValue)?.stringValue {
                JSONWriter.writeString(string, to: &output)
            } else if let bool = message.value(of: types.boolValue)?.boolValue {
                output.append(contentsOf: (bool ? "true" : "false").utf8)
            } else if let structValue = message.value(of: types.structValue)?.messageValue {
                write(structValue, to: &output)
            } else if let listValue = message.value(of: types.listValueField)?.messageValue {
                write(listValue, to: &output)
            } else {
                output.append(contentsOf: "null".utf8)
            }
        }
        return true
    }
}
