/// A Swift type generated for one message of `proto/` (module
/// `HarepostContracts`, by `scripts/generate-protos.sh`).
///
/// A contract type is a view over one ``ProtoMessage`` of its type: each
/// field is a property that reads and writes its slot by position, so a
/// renamed field or type in `proto/` is a compile error wherever it is used,
/// and a typed access costs what an access through a cached field descriptor
/// costs. The generic layers (the wire, the JSON bridge) keep working on
/// ``protoMessage``.
public protocol ProtoContract: Sendable, Equatable {
    /// The type's descriptor, checked against the generated layout once.
    static var descriptor: MessageDescriptor { get }
    /// The message this view reads and writes.
    var protoMessage: ProtoMessage { get set }
    /// An empty message of this type.
    init()
    /// A view over `message`, which must be of ``descriptor``'s type (the RPC
    /// layer has decoded it as that type).
    init(unchecked message: ProtoMessage)
}

extension ProtoContract {
    /// A view over `message`, or a type mismatch when it is of another type.
    public init(_ message: ProtoMessage) throws(ProtoError) {
        guard message.descriptor == Self.descriptor else {
            throw .typeMismatch(message: message.descriptor.fullName, field: "", expected: Self.descriptor.fullName)
        }
        self.init(unchecked: message)
    }
}

/// A Swift enum generated for one enum of `proto/`. Proto3 enums are open:
/// a number the contracts do not name is kept as `unrecognized`.
public protocol ProtoEnumContract: Sendable, Hashable {
    init(rawValue: Int32)
    var rawValue: Int32 { get }
    /// The value's JSON name (``EnumDescriptor``): `DELIVERY_STATUS_DEAD_LETTER` is `dead_letter`.
    var jsonName: String { get }
    init?(jsonName: String)
}

/// One RPC method of `proto/`, generated as a type: its path and its typed
/// request and response.
public protocol RPCMethodContract: SendableMetatype {
    associatedtype Input: ProtoContract
    associatedtype Output: ProtoContract
    /// `harepost.store.v1.Store/GetDelivery`.
    static var path: String { get }
}

extension MessageDescriptor {
    /// The descriptor named `fullName`, after checking that its fields are
    /// `fields` in slot order: what generated contract types rely on to
    /// read fields by position. A mismatch means the generated Swift and C
    /// code are out of step, which `scripts/generate-protos.sh --check` also
    /// catches before a build.
    public static func contract(_ fullName: String, fields: [StaticString]) -> MessageDescriptor {
        guard let descriptor = named(fullName) else {
            preconditionFailure("contract \(fullName) is not compiled into CHarepostProto: regenerate the protos")
        }
        let compiled = descriptor.fields.map(\.name)
        let generated = fields.map { $0.description }
        precondition(
            compiled == generated,
            "contract \(fullName) has fields \(compiled), generated code expects \(generated): regenerate the protos"
        )
        return descriptor
    }
}

/// Field access by position, for the generated contract types.
extension ProtoMessage {
    /// A singular field's value at slot `index` (see ``value(of:)``).
    @inline(__always)
    public func value(at index: Int) -> ProtoValue? {
        value(of: descriptor.fields[index])
    }

    /// A repeated field's values at slot `index`.
    @inline(__always)
    public func values(at index: Int) -> [ProtoValue] {
        values(of: descriptor.fields[index])
    }

    /// Sets (or, with `nil`, clears) the singular field at slot `index`, as
    /// ``set(_:_:)`` does but without its type check: the generated caller
    /// passes a value of the field's type.
    public mutating func set(at index: Int, _ value: ProtoValue?) {
        let field = descriptor.fields[index]
        if let value { assign(value, to: field) } else { clear(field) }
    }

    /// Sets the repeated field at slot `index`.
    public mutating func set(at index: Int, values: [ProtoValue]) {
        store(values.isEmpty ? .unset : .list(values), at: index)
    }

    /// A `map<string, string>` field at slot `index` as a dictionary.
    public func stringMap(at index: Int) -> [String: String] {
        stringMap(of: descriptor.fields[index])
    }

    /// Sets the `map<string, string>` field at slot `index`.
    public mutating func set(at index: Int, stringMap: [String: String]) {
        let field = descriptor.fields[index]
        store(.unset, at: index)
        let entries = Self.entries(stringMap, field: field)
        if !entries.isEmpty { store(.list(entries), at: index) }
    }
}
