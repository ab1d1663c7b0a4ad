internal import CHarepostProto

/// One field of a message, as protobuf-c describes it.
/// The raw pointers refer to static, immutable descriptor tables in the C target.
public struct FieldDescriptor: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        case int32, sint32, sfixed32, int64, sint64, sfixed64
        case uint32, fixed32, uint64, fixed64
        case float, double, bool, `enum`, string, bytes, message
    }

    public enum Label: Sendable, Equatable {
        /// A proto3 field without presence, or a member of a oneof.
        case singular
        /// proto2 `optional`: presence in a `has_` flag.
        case optional
        case required
        case repeated
    }

    /// The proto name, e.g. `idempotency_key`.
    public var name: String { String(decoding: nameUTF8, as: UTF8.self) }
    /// The proto name's bytes, in protobuf-c's static descriptor table.
    ///
    /// Kept as a pointer rather than a `String`, so that a `FieldDescriptor`
    /// holds no reference: the generic layers copy descriptors for every
    /// field they visit, and a copy is then plain bytes instead of a string
    /// retain and release.
    public let nameUTF8: UnsafeBufferPointer<UInt8>
    public let number: Int32
    /// The type proto/ declares. A `string` is carried as bytes in the C
    /// structs (``ProtoRegistry`` marks which), so that U+0000 survives.
    public private(set) var kind: Kind
    public let label: Label
    /// True for a member of a oneof, including the single-member `_name` oneofs
    /// harepost uses for presence.
    public let isOneofMember: Bool
    /// The position of this field in its message's `fields`.
    public let index: Int

    let offset: Int
    let quantifierOffset: Int
    let rawMessageType: UnsafePointer<ProtobufCMessageDescriptor>?
    let rawEnumType: UnsafePointer<ProtobufCEnumDescriptor>?
    /// The field's message and enum types, set once by ``ProtoRegistry`` when
    /// it indexes every type (descriptors live as long as the process), so a
    /// type is one load instead of a lookup.
    private var resolvedMessageType: Unmanaged<MessageDescriptor>?
    private var resolvedEnumType: Unmanaged<EnumDescriptor>?

    /// The type of a message field (or of a repeated message field's elements).
    public var messageType: MessageDescriptor? {
        resolvedMessageType?.takeUnretainedValue()
    }

    /// The type of an enum field.
    public var enumType: EnumDescriptor? {
        resolvedEnumType?.takeUnretainedValue()
    }

    public var isRepeated: Bool { label == .repeated }

    /// Whether an unset value is distinguishable from a default one, so the JSON
    /// bridge renders it as `null`: message fields, oneof members, proto2 optionals.
    public var hasPresence: Bool {
        !isRepeated && (kind == .message || isOneofMember || label == .optional)
    }

    /// A map field: a repeated `XxxEntry` message with `key` (1) and `value` (2)
    /// fields, which is how protoc lowers `map<K, V>` (protobuf-c has no flag for it).
    public private(set) var isMap = false

    /// Bytes one value of this field takes inside the C struct (or a repeated array).
    var elementSize: Int {
        switch kind {
        case .int32, .sint32, .sfixed32, .uint32, .fixed32, .float, .bool, .enum: 4
        case .int64, .sint64, .sfixed64, .uint64, .fixed64, .double: 8
        case .message: MemoryLayout<UnsafeRawPointer>.size
        case .string, .bytes: MemoryLayout<ProtobufCBinaryData>.size
        }
    }

    init(_ raw: ProtobufCFieldDescriptor, index: Int) {
        self.nameUTF8 = UnsafeBufferPointer(
            start: UnsafeRawPointer(raw.name).assumingMemoryBound(to: UInt8.self),
            count: strlen(raw.name)
        )
        self.number = Int32(bitPattern: raw.id)
        self.index = index
        self.offset = Int(raw.offset)
        self.quantifierOffset = Int(raw.quantifier_offset)
        self.isOneofMember = raw.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0
        switch raw.label {
        case PROTOBUF_C_LABEL_REQUIRED: self.label = .required
        case PROTOBUF_C_LABEL_OPTIONAL: self.label = .optional
        case PROTOBUF_C_LABEL_REPEATED: self.label = .repeated
        default: self.label = .singular
        }
        switch raw.type {
        case PROTOBUF_C_TYPE_INT32: self.kind = .int32
        case PROTOBUF_C_TYPE_SINT32: self.kind = .sint32
        case PROTOBUF_C_TYPE_SFIXED32: self.kind = .sfixed32
        case PROTOBUF_C_TYPE_INT64: self.kind = .int64
        case PROTOBUF_C_TYPE_SINT64: self.kind = .sint64
        case PROTOBUF_C_TYPE_SFIXED64: self.kind = .sfixed64
        case PROTOBUF_C_TYPE_UINT32: self.kind = .uint32
        case PROTOBUF_C_TYPE_FIXED32: self.kind = .fixed32
        case PROTOBUF_C_TYPE_UINT64: self.kind = .uint64
        case PROTOBUF_C_TYPE_FIXED64: self.kind = .fixed64
        case PROTOBUF_C_TYPE_FLOAT: self.kind = .float
        case PROTOBUF_C_TYPE_DOUBLE: self.kind = .double
        case PROTOBUF_C_TYPE_BOOL: self.kind = .bool
        case PROTOBUF_C_TYPE_ENUM: self.kind = .enum
        case PROTOBUF_C_TYPE_STRING: self.kind = .string
        case PROTOBUF_C_TYPE_BYTES: self.kind = .bytes
        default: self.kind = .message
        }
        self.rawMessageType =
            self.kind == .message ? raw.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self) : nil
        self.rawEnumType =
            self.kind == .enum ? raw.descriptor?.assumingMemoryBound(to: ProtobufCEnumDescriptor.self) : nil
    }

    /// This field with its types resolved (the registry's second pass; the
    /// registry keeps every descriptor alive). `isText`: proto/ declares it
    /// a string, compiled as bytes.
    func resolved(message: MessageDescriptor?, enumeration: EnumDescriptor?, isText: Bool) -> FieldDescriptor {
        var field = self
        if isText {
            precondition(kind == .bytes, "string field \(name) not compiled as bytes")
            field.kind = .string
        }
        field.resolvedMessageType = message.map { Unmanaged.passUnretained($0) }
        field.resolvedEnumType = enumeration.map { Unmanaged.passUnretained($0) }
        field.isMap = isRepeated && message?.isMapEntry == true
        return field
    }
}
