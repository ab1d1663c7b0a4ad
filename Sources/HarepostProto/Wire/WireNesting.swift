/// Measures how deeply an encoded message nests sub-messages, without decoding it.
///
/// This only walks tags and lengths (it never builds values), so a hostile frame
/// cannot drive protobuf-c's recursive unpacker past a fixed depth.
enum WireNesting {
    /// The nesting depth (1 for a message without sub-messages), or `nil` when it
    /// exceeds `limit`. Malformed input reports the depth seen so far and is left
    /// for protobuf-c to reject.
    static func depth(of bytes: UnsafeRawBufferPointer, as descriptor: MessageDescriptor, limit: Int) -> Int? {
        depth(of: bytes, as: descriptor, level: 1, limit: limit)
    }

    private static func depth(
        of bytes: UnsafeRawBufferPointer,
        as descriptor: MessageDescriptor,
        level: Int,
        limit: Int
    ) -> Int? {
        guard level <= limit else { return nil }
        var deepest = level
        var position = 0
        while position < bytes.count {
            guard let tag = varint(bytes, &position) else { return deepest }
            switch tag & 7 {
            case 0:
                guard varint(bytes, &position) != nil else { return deepest }
            case 1:
                position += 8
            case 5:
                position += 4
            case 2:
                guard let length = varint(bytes, &position), length <= UInt64(bytes.count - position) else {
                    return deepest
                }
                let end = position + Int(length)
                if let type = descriptor.messageType(ofFieldNumber: Int32(truncatingIfNeeded: tag >> 3)) {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
                    guard let inner = depth(of: slice, as: type, level: level + 1, limit: limit) else { return nil }
                    deepest = max(deepest, inner)
                }
                position = end
            default:
                // Groups (3, 4) and invalid wire types: protobuf-c decides.
                return deepest
            }
        }
        return deepest
    }

    private static func varint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.count, shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}
