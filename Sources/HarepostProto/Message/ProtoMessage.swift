/// A message of any type compiled from `proto/`, held as Swift values.
///
/// This is the one representation every layer shares: the RPC library packs and
/// unpacks it through protobuf-c, the JSON bridge walks it by descriptor, and
/// services read and build it by field name. There is no per-message code.
///
/// Field semantics follow proto3: a field without presence that holds its
/// default value is the same as unset (so a message read back from the wire
/// equals the one that was written); a field with presence (``FieldDescriptor/hasPresence``)
/// is either absent or holds a value. Setting one member of a oneof clears the others.
public struct ProtoMessage: Sendable, Equatable {
    enum Slot: Sendable, Equatable {
        case unset
        case single(ProtoValue)
        case list([ProtoValue])
    }

    public let descriptor: MessageDescriptor
    private(set) var slots: [Slot]

    public init(_ descriptor: MessageDescriptor) {
        self.descriptor = descriptor
        // Not `Array(repeating:count:)` nor `init(unsafeUninitializedCapacity:)`:
        // both call the standard library's unspecialized allocator, which
        // looks the array's generic metadata up in a global table on every
        // call. Reserving and appending are inlined with the metadata cached.
        var slots: [Slot] = []
        slots.reserveCapacity(descriptor.fields.count)
        for _ in descriptor.fields.indices { slots.append(.unset) }
        self.slots = slots
    }

    /// An empty message of the type with this full proto name.
    public init(_ fullName: String) throws(ProtoError) {
        guard let descriptor = MessageDescriptor.named(fullName) else { throw .unknownMessage(fullName) }
        self.init(descriptor)
    }

    // MARK: By field descriptor (generic code: the bridge, the wire layer)

    /// Whether a singular field is set (for a field without presence: holds a
    /// non-default value), or a repeated field is non-empty.
    public func isSet(_ field: FieldDescriptor) -> Bool {
        if case .unset = slots[field.index] { false } else { true }
    }

    /// A singular field's value: the stored value; the default for an unset field
    /// without presence; `nil` for an absent field with presence.
    public func value(of field: FieldDescriptor) -> ProtoValue? {
        switch slots[field.index] {
        case .single(let value): value
        case .unset where !field.hasPresence && !field.isRepeated: ProtoValue.defaultValue(for: field)
        default: nil
        }
    }

    /// A repeated field's values (empty when unset).
    public func values(of field: FieldDescriptor) -> [ProtoValue] {
        if case .list(let values) = slots[field.index] { values } else { [] }
    }

    public mutating func set(_ field: FieldDescriptor, _ value: ProtoValue) throws(ProtoError) {
        guard !field.isRepeated, value.fits(field) else { throw mismatch(field) }
        assign(value, to: field)
    }

    /// Stores a value of the field's type: setting one member of a oneof
    /// clears the others, and a default value without presence is unset.
    mutating func assign(_ value: ProtoValue, to field: FieldDescriptor) {
        if field.isOneofMember {
            for other in descriptor.fields where other.isOneofMember && other.quantifierOffset == field.quantifierOffset
            {
                slots[other.index] = .unset
            }
        }
        if !field.hasPresence, value == ProtoValue.defaultValue(for: field) {
            slots[field.index] = .unset
        } else {
            slots[field.index] = .single(value)
        }
    }

    public mutating func set(_ field: FieldDescriptor, values: [ProtoValue]) throws(ProtoError) {
        guard field.isRepeated, values.allSatisfy({ $0.fits(field) }) else { throw mismatch(field) }
        slots[field.index] = values.isEmpty ? .unset : .list(values)
    }

    public mutating func clear(_ field: FieldDescriptor) {
        slots[field.index] = .unset
    }

    /// Stores a value read from a C message; the reader has already checked the type.
    mutating func store(_ slot: Slot, at index: Int) {
        slots[index] = slot
    }

    private func mismatch(_ field: FieldDescriptor) -> ProtoError {
        let expected = field.isRepeated ? "a list of \(field.kind.displayName)" : field.kind.displayName
        let detail = field.kind == .message ? "\(expected) of type \(field.messageType?.fullName ?? "?")" : expected
        return .typeMismatch(message: descriptor.fullName, field: field.name, expected: detail)
    }

    func field(_ name: String) throws(ProtoError) -> FieldDescriptor {
        guard let field = descriptor.field(named: name) else {
            throw .unknownField(message: descriptor.fullName, field: name)
        }
        return field
    }
}
