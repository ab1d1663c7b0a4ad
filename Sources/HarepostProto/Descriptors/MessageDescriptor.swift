internal import CHarepostProto

/// A message type compiled from `proto/`, described by protobuf-c's descriptor.
///
/// Instances are unique per type (they come from ``ProtoRegistry``), immutable,
/// and compare by identity.
public final class MessageDescriptor: Sendable {
    /// The full proto name, e.g. `harepost.store.v1.Delivery`.
    public let fullName: String
    /// The unqualified name, e.g. `Delivery`.
    public let shortName: String
    /// Fields in declaration order. (Written only while ``ProtoRegistry``
    /// builds itself, before any other code can see this descriptor, so a
    /// read needs no dynamic exclusivity check: every message built or read
    /// reads it.)
    @exclusivity(unchecked) nonisolated(unsafe) public private(set) var fields: [FieldDescriptor]
    /// The message type of each message field, indexed by field number (nil
    /// for other numbers), when the numbers are small; the wire nesting scan
    /// looks every length-delimited field up here. Set with `fields`.
    @exclusivity(unchecked) nonisolated(unsafe) private var messageTypeByNumber: [Unmanaged<MessageDescriptor>?] = []
    private let fieldIndexByName: [String: Int]
    private let fieldIndexByNumber: [Int32: Int]
    /// Whether this is the synthetic entry type protoc makes for a `map<K, V>` field.
    public let isMapEntry: Bool
    /// The well-known type this is, if any: the JSON bridge maps those to
    /// JSON of their own.
    public let wellKnownType: WellKnownType?

    nonisolated(unsafe) let raw: UnsafePointer<ProtobufCMessageDescriptor>

    init(_ raw: UnsafePointer<ProtobufCMessageDescriptor>) {
        self.raw = raw
        self.fullName = String(cString: raw.pointee.name)
        self.shortName = String(cString: raw.pointee.short_name)
        let count = Int(raw.pointee.n_fields)
        let fields = (0..<count).map { FieldDescriptor(raw.pointee.fields[$0], index: $0) }
        self.fields = fields
        self.fieldIndexByName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.index) })
        self.fieldIndexByNumber = Dictionary(uniqueKeysWithValues: fields.map { ($0.number, $0.index) })
        self.isMapEntry =
            shortName.hasSuffix("Entry") && fields.count == 2
            && fields[0].name == "key" && fields[0].number == 1
            && fields[1].name == "value" && fields[1].number == 2
        self.wellKnownType = WellKnownType(rawValue: fullName)
    }

    /// Resolves the fields' message and enum types; called once per
    /// descriptor by the registry, after every descriptor exists.
    func resolveFieldTypes(
        message: (UnsafePointer<ProtobufCMessageDescriptor>) -> MessageDescriptor,
        enumeration: (UnsafePointer<ProtobufCEnumDescriptor>) -> EnumDescriptor,
        textFields: Set<Int32>
    ) {
        fields = fields.map { field in
            field.resolved(
                message: field.rawMessageType.map(message),
                enumeration: field.rawEnumType.map(enumeration),
                isText: textFields.contains(field.number)
            )
        }
        let highest = min(Int(fields.map(\.number).max() ?? 0), Self.largestTabulatedNumber)
        var table = [Unmanaged<MessageDescriptor>?](repeating: nil, count: highest + 1)
        for field in fields where field.kind == .message && Int(field.number) <= highest {
            table[Int(field.number)] = field.messageType.map(Unmanaged.passUnretained)
        }
        messageTypeByNumber = table
    }

    /// Field numbers up to this are looked up by ``messageType(ofFieldNumber:)``
    /// in a table, larger ones (which harepost's protos do not use) by the
    /// dictionary.
    private static let largestTabulatedNumber = 1024

    public func field(named name: String) -> FieldDescriptor? {
        fieldIndexByName[name].map { fields[$0] }
    }

    public func field(number: Int32) -> FieldDescriptor? {
        fieldIndexByNumber[number].map { fields[$0] }
    }

    /// The message type of the field with this number, when it is a message
    /// field: what the wire nesting scan needs, without copying the field.
    func messageType(ofFieldNumber number: Int32) -> MessageDescriptor? {
        if number >= 0, Int(number) < messageTypeByNumber.count {
            return messageTypeByNumber[Int(number)]?.takeUnretainedValue()
        }
        guard number > Self.largestTabulatedNumber, let field = field(number: number), field.kind == .message else {
            return nil
        }
        return field.messageType
    }

    /// Looks a message type up by its full proto name.
    public static func named(_ fullName: String) -> MessageDescriptor? {
        ProtoRegistry.shared.message(named: fullName)
    }
}

/// The `google.protobuf` types with a JSON mapping of their own.
public enum WellKnownType: String, Sendable {
    case timestamp = "google.protobuf.Timestamp"
    case `struct` = "google.protobuf.Struct"
    case listValue = "google.protobuf.ListValue"
    case value = "google.protobuf.Value"
}

extension MessageDescriptor: Hashable {
    public static func == (lhs: MessageDescriptor, rhs: MessageDescriptor) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension MessageDescriptor: CustomStringConvertible {
    public var description: String { fullName }
}
