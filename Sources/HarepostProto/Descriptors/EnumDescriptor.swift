internal import CHarepostProto

/// An enum type compiled from `proto/`.
///
/// Each value also has a JSON name: its proto name without the enum's
/// SCREAMING_SNAKE prefix, lower-cased (`DELIVERY_STATUS_DEAD_LETTER` of
/// `DeliveryStatus` is `dead_letter`; `OK` of `Code` is `ok`).
public final class EnumDescriptor: Sendable {
    public struct Value: Sendable, Equatable {
        public let name: String
        public let jsonName: String
        public let number: Int32
    }

    public let fullName: String
    public let shortName: String
    public let values: [Value]
    private let valueByNumber: [Int32: Int]
    private let valueByJSONName: [String: Int]

    init(_ raw: UnsafePointer<ProtobufCEnumDescriptor>) {
        self.fullName = String(cString: raw.pointee.name)
        self.shortName = String(cString: raw.pointee.short_name)
        let prefix = Self.screamingSnake(shortName) + "_"
        let values = (0..<Int(raw.pointee.n_values)).map { index -> Value in
            let value = raw.pointee.values[index]
            let name = String(cString: value.name)
            let stripped = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
            return Value(name: name, jsonName: stripped.lowercased(), number: value.value)
        }
        self.values = values
        // Aliases (several names for one number) keep the first name.
        self.valueByNumber = Dictionary(
            values.enumerated().map { ($1.number, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        self.valueByJSONName = Dictionary(
            values.enumerated().map { ($1.jsonName, $0) },
            uniquingKeysWith: { first, _ in first }
        )
    }

    public func value(number: Int32) -> Value? {
        valueByNumber[number].map { values[$0] }
    }

    public func value(jsonName: String) -> Value? {
        valueByJSONName[jsonName].map { values[$0] }
    }

    /// `DeliveryStatus` → `DELIVERY_STATUS`.
    static func screamingSnake(_ camel: String) -> String {
        var result = ""
        for character in camel {
            if character.isUppercase, !result.isEmpty { result.append("_") }
            result.append(contentsOf: character.uppercased())
        }
        return result
    }
}

extension EnumDescriptor: Hashable {
    public static func == (lhs: EnumDescriptor, rhs: EnumDescriptor) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
