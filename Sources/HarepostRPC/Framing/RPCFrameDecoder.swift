public import NIOCore

/// Splits a byte stream into frames: a 4-byte big-endian length, then that many
/// bytes. A frame announcing more than `maximumFrameSize` bytes is rejected as
/// soon as its length is read, so a peer cannot make us buffer it.
///
/// (NIOExtras' `LengthFieldBasedFrameDecoder` consumes the length before the
/// body arrives and has no size limit of its own, so the limit could only be
/// enforced after buffering; this decoder peeks the length and slices the frame
/// in one step, keeping no state between calls.)
public struct RPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public struct FrameTooLargeError: Error, Equatable {
        public let size: Int
        public let maximum: Int
    }

    public static let headerSize = 4
    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= maximumFrameSize else {
            throw FrameTooLargeError(size: Int(length), maximum: maximumFrameSize)
        }
        guard buffer.readableBytes >= Self.headerSize + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Self.headerSize)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

/// The frame codec both ends install: the decoder above. Outbound frames
/// carry their own length (``RPCEnvelope/frame(allocator:)``).
enum RPCFraming {
    static func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, maximumFrameSize: Int) throws {
        try pipeline.addHandler(ByteToMessageHandler(RPCFrameDecoder(maximumFrameSize: maximumFrameSize)))
    }
}
