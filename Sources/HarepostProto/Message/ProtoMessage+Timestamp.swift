public import struct Foundation.Date

/// `google.protobuf.Timestamp` helpers.
extension ProtoMessage {
    /// A Timestamp message for `seconds` since the Unix epoch plus `nanos`.
    public static func timestamp(seconds: Int64, nanos: Int32 = 0) -> ProtoMessage {
        var message = ProtoMessage(TimestampFields.descriptor)
        try! message.set(TimestampFields.seconds, .int64(seconds))
        try! message.set(TimestampFields.nanos, .int32(nanos))
        return message
    }

    /// Looked up once: every stored time a lookup answers becomes a Timestamp,
    /// and a lookup by name hashes the name each time.
    private enum TimestampFields {
        static let descriptor = MessageDescriptor.named(WellKnownType.timestamp.rawValue)!  // compiled into every build
        static let seconds = descriptor.field(named: "seconds")!
        static let nanos = descriptor.field(named: "nanos")!
    }

    public static func timestamp(_ date: Date) -> ProtoMessage {
        let interval = date.timeIntervalSince1970
        var seconds = interval.rounded(.down)
        var nanos = ((interval - seconds) * 1e9).rounded()
        if nanos >= 1e9 {
            seconds += 1
            nanos -= 1e9
        }
        return timestamp(seconds: Int64(seconds), nanos: Int32(nanos))
    }

    /// For a Timestamp message: the seconds and nanos it holds.
    public var timestampValue: (seconds: Int64, nanos: Int32)? {
        guard descriptor.wellKnownType == .timestamp else { return nil }
        return (int64("seconds") ?? 0, Int32(clamping: int64("nanos") ?? 0))
    }
}

/// Milliseconds since the Unix epoch: how the services store times.
public typealias UnixMilliseconds = Int64

extension Date {
    public var unixMilliseconds: UnixMilliseconds { UnixMilliseconds((timeIntervalSince1970 * 1000).rounded()) }
}

extension ProtoMessage {
    /// For a Timestamp message: its time in Unix milliseconds.
    public var unixMilliseconds: UnixMilliseconds? {
        timestampValue.map { $0.seconds * 1000 + Int64($0.nanos / 1_000_000) }
    }
}
