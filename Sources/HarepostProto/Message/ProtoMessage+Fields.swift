/// Access by field name, for service code that reads requests and builds responses.
extension ProtoMessage {
    /// A singular field's value by name (see ``value(of:)``); `nil` for an unknown
    /// name, or an absent field with presence.
    public subscript(_ name: String) -> ProtoValue? {
        descriptor.field(named: name).flatMap { value(of: $0) }
    }

    public mutating func set(_ name: String, _ value: ProtoValue) throws(ProtoError) {
        try set(field(name), value)
    }

    public mutating func set(_ name: String, values: [ProtoValue]) throws(ProtoError) {
        try set(field(name), values: values)
    }

    public mutating func clear(_ name: String) throws(ProtoError) {
        clear(try field(name))
    }

    public func has(_ name: String) -> Bool {
        descriptor.field(named: name).map { isSet($0) } ?? false
    }

    public func values(_ name: String) -> [ProtoValue] {
        descriptor.field(named: name).map { values(of: $0) } ?? []
    }

    public func string(_ name: String) -> String? { self[name]?.stringValue }
    public func bool(_ name: String) -> Bool? { self[name]?.boolValue }
    public func int64(_ name: String) -> Int64? { self[name]?.int64Value }
    public func message(_ name: String) -> ProtoMessage? { self[name]?.messageValue }
    public func enumNumber(_ name: String) -> Int32? { self[name]?.enumNumber }

    /// An enum field's value by its JSON name (`"dead_letter"`).
    public func enumName(_ name: String) -> String? {
        guard let field = descriptor.field(named: name), let number = value(of: field)?.enumNumber else { return nil }
        return field.enumType?.value(number: number)?.jsonName
    }

    /// Sets an enum field by its JSON name (`"dead_letter"`).
    public mutating func set(_ name: String, enumName: String) throws(ProtoError) {
        let field = try field(name)
        guard let value = field.enumType?.value(jsonName: enumName) else {
            throw .typeMismatch(
                message: descriptor.fullName,
                field: name,
                expected: "one of \(field.enumType?.values.map(\.jsonName) ?? [])"
            )
        }
        try set(field, .enumValue(value.number))
    }

    /// A `map<string, string>` field as a dictionary.
    public func stringMap(_ name: String) -> [String: String] {
        descriptor.field(named: name).map { stringMap(of: $0) } ?? [:]
    }

    /// Sets a `map<string, string>` field (entries sorted by key, so packing is deterministic).
    public mutating func set(_ name: String, stringMap: [String: String]) throws(ProtoError) {
        let field = try field(name)
        guard field.isMap, field.messageType?.fields.last?.kind == .string else {
            throw .typeMismatch(message: descriptor.fullName, field: name, expected: "a map of strings")
        }
        store(.unset, at: field.index)
        let entries = Self.entries(stringMap, field: field)
        if !entries.isEmpty { store(.list(entries), at: field.index) }
    }

    /// A map field's entries read as a dictionary: an entry's key is its
    /// first slot and its value its second (how protoc lowers `map<K, V>`).
    func stringMap(of field: FieldDescriptor) -> [String: String] {
        var result: [String: String] = [:]
        for entry in values(of: field) {
            guard let entry = entry.messageValue, let key = entry.value(at: 0)?.stringValue else { continue }
            result[key] = entry.value(at: 1)?.stringValue ?? ""
        }
        return result
    }

    /// The entries of a `map<string, string>` field, sorted by key.
    static func entries(_ map: [String: String], field: FieldDescriptor) -> [ProtoValue] {
        guard let entryType = field.messageType else { return [] }
        return map.sorted(by: { $0.key < $1.key }).map { key, value in
            var entry = ProtoMessage(entryType)
            entry.set(at: 0, .string(key))
            entry.set(at: 1, .string(value))
            return .message(entry)
        }
    }
}

extension ProtoMessage {
    /// A message of the type named `fullName` with `fields` set, e.g.
    /// `ProtoMessage("harepost.auth.v1.GetSigningSecretResponse", ["signing_secret": .string(secret)])`.
    /// Absent (`nil`) values leave their field unset.
    public init(_ fullName: String, _ fields: KeyValuePairs<String, ProtoValue?>) throws(ProtoError) {
        try self.init(fullName)
        for (name, value) in fields {
            if let value { try set(name, value) }
        }
    }
}

extension ProtoValue {
    /// A `google.protobuf.Timestamp` value.
    public static func timestamp(unixMilliseconds: Int64) -> ProtoValue {
        let seconds = unixMilliseconds >= 0 ? unixMilliseconds / 1000 : (unixMilliseconds - 999) / 1000
        return .message(.timestamp(seconds: seconds, nanos: Int32(unixMilliseconds - seconds * 1000) * 1_000_000))
    }
}
