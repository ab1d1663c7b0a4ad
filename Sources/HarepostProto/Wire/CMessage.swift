internal import CHarepostProto

/// Moves messages between ``ProtoMessage`` and protobuf-c's C structs by walking
/// descriptors: one generic writer, one generic reader, no per-message code.
///
/// Strings are carried with their length, as protobuf-c carries bytes (the C
/// code is generated with every string field as bytes; ``ProtoRegistry``), so
/// U+0000 in a string survives both ways; text that is not valid UTF-8 is
/// refused on the way in.
///
/// Ownership: ``make(_:in:)`` builds a struct whose every string, byte array,
/// repeated array and sub-message is allocated in the given arena, as
/// `protobuf_c_message_unpack(_, &arena.allocator, …)` allocates an unpacked
/// one (``ProtoArena``). The arena is the single owner of both: nothing is
/// freed one by one, and all of it goes when the arena is released.
enum CMessage {
    /// Builds a C message in `arena`; it lives until the arena is released.
    static func make(_ message: ProtoMessage, in arena: UnsafeMutablePointer<hp_arena>) -> UnsafeMutablePointer<
        ProtobufCMessage
    > {
        guard let cMessage = hp_arena_message_new(arena, message.descriptor.raw) else {
            fatalError("out of memory building \(message.descriptor.fullName)")
        }
        let base = UnsafeMutableRawPointer(cMessage)
        for field in message.descriptor.fields {
            switch message.slots[field.index] {
            case .unset:
                continue
            case .single(let value):
                write(value, to: base + field.offset, in: arena)
                if field.isOneofMember {
                    base.storeBytes(
                        of: UInt32(bitPattern: field.number),
                        toByteOffset: field.quantifierOffset,
                        as: UInt32.self
                    )
                } else if field.label == .optional, field.kind != .message {
                    base.storeBytes(of: Int32(1), toByteOffset: field.quantifierOffset, as: Int32.self)
                }
            case .list(let values):
                let size = field.elementSize
                guard let array = hp_arena_alloc(arena, values.count * size) else {
                    fatalError("out of memory building \(message.descriptor.fullName).\(field.name)")
                }
                for (position, value) in values.enumerated() {
                    write(value, to: array + position * size, in: arena)
                }
                base.storeBytes(of: array, toByteOffset: field.offset, as: UnsafeMutableRawPointer.self)
                base.storeBytes(of: values.count, toByteOffset: field.quantifierOffset, as: Int.self)
            }
        }
        return cMessage
    }

    private static func write(
        _ value: ProtoValue,
        to pointer: UnsafeMutableRawPointer,
        in arena: UnsafeMutablePointer<hp_arena>
    ) {
        switch value {
        case .int32(let v): pointer.storeBytes(of: v, as: Int32.self)
        case .int64(let v): pointer.storeBytes(of: v, as: Int64.self)
        case .uint32(let v): pointer.storeBytes(of: v, as: UInt32.self)
        case .uint64(let v): pointer.storeBytes(of: v, as: UInt64.self)
        case .float(let v): pointer.storeBytes(of: v, as: Float.self)
        case .double(let v): pointer.storeBytes(of: v, as: Double.self)
        case .bool(let v): pointer.storeBytes(of: Int32(v ? 1 : 0), as: Int32.self)
        case .enumValue(let v): pointer.storeBytes(of: v, as: Int32.self)
        case .string(var v):
            v.withUTF8 { store($0, to: pointer, in: arena) }
        case .bytes(let v):
            v.withUnsafeBufferPointer { store($0, to: pointer, in: arena) }
        case .message(let v):
            pointer.storeBytes(of: make(v, in: arena), as: UnsafeMutablePointer<ProtobufCMessage>.self)
        }
    }

    /// A copy of `bytes` in the arena, as protobuf-c's binary data.
    private static func store(
        _ bytes: UnsafeBufferPointer<UInt8>,
        to pointer: UnsafeMutableRawPointer,
        in arena: UnsafeMutablePointer<hp_arena>
    ) {
        var data: UnsafeMutablePointer<UInt8>? = nil
        if let source = bytes.baseAddress, !bytes.isEmpty {
            data = hp_arena_alloc(arena, bytes.count)?.assumingMemoryBound(to: UInt8.self)
            guard let data else { fatalError("out of memory copying \(bytes.count) bytes") }
            data.initialize(from: source, count: bytes.count)
        }
        pointer.storeBytes(of: ProtobufCBinaryData(len: bytes.count, data: data), as: ProtobufCBinaryData.self)
    }

    /// Reads a C message (built or unpacked) into Swift values. Does not free
    /// it. Throws when a string field is not valid UTF-8.
    static func read(_ cMessage: UnsafePointer<ProtobufCMessage>) throws(ProtoError) -> ProtoMessage {
        let descriptor = ProtoRegistry.shared.message(for: cMessage.pointee.descriptor)
        var message = ProtoMessage(descriptor)
        let base = UnsafeRawPointer(cMessage)
        for field in descriptor.fields {
            if field.isRepeated {
                let count = base.load(fromByteOffset: field.quantifierOffset, as: Int.self)
                guard count > 0, let array = base.load(fromByteOffset: field.offset, as: UnsafeRawPointer?.self) else {
                    continue
                }
                let size = field.elementSize
                var values: [ProtoValue] = []
                values.reserveCapacity(count)
                for position in 0..<count {
                    values.append(try read(field, at: array + position * size, in: descriptor))
                }
                message.store(.list(values), at: field.index)
                continue
            }
            if field.isOneofMember {
                let chosen = base.load(fromByteOffset: field.quantifierOffset, as: UInt32.self)
                guard chosen == UInt32(bitPattern: field.number) else { continue }
            } else if field.label == .optional, field.kind != .message {
                guard base.load(fromByteOffset: field.quantifierOffset, as: Int32.self) != 0 else { continue }
            }
            if field.kind == .message, base.load(fromByteOffset: field.offset, as: UnsafeRawPointer?.self) == nil {
                continue
            }
            let value = try read(field, at: base + field.offset, in: descriptor)
            if !field.hasPresence, value == ProtoValue.defaultValue(for: field) { continue }
            message.store(.single(value), at: field.index)
        }
        return message
    }

    private static func read(
        _ field: FieldDescriptor,
        at pointer: UnsafeRawPointer,
        in message: MessageDescriptor
    ) throws(ProtoError) -> ProtoValue {
        switch field.kind {
        case .int32, .sint32, .sfixed32: .int32(pointer.load(as: Int32.self))
        case .int64, .sint64, .sfixed64: .int64(pointer.load(as: Int64.self))
        case .uint32, .fixed32: .uint32(pointer.load(as: UInt32.self))
        case .uint64, .fixed64: .uint64(pointer.load(as: UInt64.self))
        case .float: .float(pointer.load(as: Float.self))
        case .double: .double(pointer.load(as: Double.self))
        case .bool: .bool(pointer.load(as: Int32.self) != 0)
        case .enum: .enumValue(pointer.load(as: Int32.self))
        case .string:
            try .string(text(pointer.load(as: ProtobufCBinaryData.self), field: field, in: message))
        case .bytes:
            .bytes(Self.bytes(pointer.load(as: ProtobufCBinaryData.self)))
        case .message:
            try .message(read(pointer.load(as: UnsafePointer<ProtobufCMessage>.self)))
        }
    }

    private static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let start = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: start, count: data.len))
    }

    /// A string field's bytes as text, every byte kept (U+0000 included);
    /// proto3 requires UTF-8, so anything else is refused.
    private static func text(
        _ data: ProtobufCBinaryData,
        field: FieldDescriptor,
        in message: MessageDescriptor
    ) throws(ProtoError) -> String {
        guard let text = data.utf8Text else { throw .invalidUTF8(message: message.fullName, field: field.name) }
        return text
    }
}

extension ProtobufCBinaryData {
    /// The bytes as text, every byte kept (U+0000 included); nil when they
    /// are not UTF-8. How every string leaves protobuf-c.
    var utf8Text: String? {
        guard len > 0, let start = data else { return "" }
        return String(validating: UnsafeBufferPointer(start: start, count: len), as: UTF8.self)
    }
}
