public import HarepostProto

public import struct Foundation.Date

/// How the services hold times: milliseconds since the Unix epoch.
extension GoogleProtobuf.Timestamp {
    public init(unixMilliseconds: UnixMilliseconds) {
        self.init(unchecked: ProtoValue.timestamp(unixMilliseconds: unixMilliseconds).messageValue!)
    }

    public init(_ date: Date) {
        self.init(unchecked: ProtoMessage.timestamp(date))
    }

    /// The time in Unix milliseconds (sub-millisecond nanos are dropped).
    public var unixMilliseconds: UnixMilliseconds {
        seconds * 1000 + Int64(nanos / 1_000_000)
    }
}
