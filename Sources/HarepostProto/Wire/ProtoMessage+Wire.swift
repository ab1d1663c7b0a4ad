internal import CHarepostProto

/// The protobuf wire format, produced and parsed by libprotobuf-c.
extension ProtoMessage {
    /// The deepest message nesting ``init(serializedBytes:as:)`` accepts. protobuf-c
    /// unpacks recursively, so an unbounded depth could exhaust the stack.
    public static let maximumNestingDepth = 100

    /// The message in protobuf wire format.
    public func serializedBytes() -> [UInt8] {
        ProtoArena.with { arena in
            let cMessage = CMessage.make(self, in: arena)
            let size = protobuf_c_message_get_packed_size(cMessage)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = size == 0 ? 0 : protobuf_c_message_pack(cMessage, buffer.baseAddress!)
            }
        }
    }

    /// Parses wire-format bytes as a message of `descriptor`'s type. Unknown
    /// fields are skipped (a newer peer may send fields this build does not know).
    public init(serializedBytes bytes: UnsafeRawBufferPointer, as descriptor: MessageDescriptor) throws(ProtoError) {
        guard WireNesting.depth(of: bytes, as: descriptor, limit: Self.maximumNestingDepth) != nil else {
            throw .nestingTooDeep(message: descriptor.fullName)
        }
        self = try ProtoArena.with { arena throws(ProtoError) in
            // protobuf-c dereferences the data pointer only for a non-zero length.
            var empty: UInt8 = 0
            let cMessage = withUnsafeMutablePointer(to: &empty) { emptyPointer in
                protobuf_c_message_unpack(
                    descriptor.raw,
                    &arena.pointee.allocator,
                    bytes.count,
                    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyPointer)
                )
            }
            guard let cMessage else { throw .malformed(message: descriptor.fullName) }
            return try CMessage.read(cMessage)
        }
    }

    public init(serializedBytes bytes: [UInt8], as descriptor: MessageDescriptor) throws(ProtoError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtoError) in try ProtoMessage(serializedBytes: raw, as: descriptor) }
        }
        self = try result.get()
    }
}
