import HarepostProto
import NIOCore

/// One frame's content (`harepost.rpc.v1.Envelope`), packed and unpacked by protobuf-c.
struct RPCEnvelope: Sendable, Equatable {
    enum Kind: Int32 {
        case request = 1
        case response = 2
    }

    var kind: Kind
    var callID: UInt64
    var method = ""
    var timeoutMilliseconds: UInt64 = 0
    var metadata: [String: String] = [:]
    var code: RPCCode = .ok
    var message = ""
    var payload: [UInt8] = []

    static func request(
        callID: UInt64,
        method: String,
        timeoutMilliseconds: UInt64,
        metadata: [String: String],
        payload: [UInt8]
    ) -> RPCEnvelope {
        RPCEnvelope(
            kind: .request,
            callID: callID,
            method: method,
            timeoutMilliseconds: timeoutMilliseconds,
            metadata: metadata,
            payload: payload
        )
    }

    static func response(callID: UInt64, payload: [UInt8]) -> RPCEnvelope {
        RPCEnvelope(kind: .response, callID: callID, payload: payload)
    }

    static func response(callID: UInt64, error: RPCError) -> RPCEnvelope {
        RPCEnvelope(kind: .response, callID: callID, code: error.code, message: error.message)
    }

    struct DecodingError: Error, CustomStringConvertible {
        let description: String
    }

    init(
        kind: Kind,
        callID: UInt64,
        method: String = "",
        timeoutMilliseconds: UInt64 = 0,
        metadata: [String: String] = [:],
        code: RPCCode = .ok,
        message: String = "",
        payload: [UInt8] = []
    ) {
        self.kind = kind
        self.callID = callID
        self.method = method
        self.timeoutMilliseconds = timeoutMilliseconds
        self.metadata = metadata
        self.code = code
        self.message = message
        self.payload = payload
    }

    /// Unpacks a frame's body. Throws for bytes that are not an envelope, or
    /// an envelope of unknown kind: the connection that sent it is then closed.
    init(frame: ByteBuffer) throws {
        let wire: ProtoEnvelope
        do {
            wire = try frame.readableBytesView.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        } catch {
            throw DecodingError(description: "frame is not a harepost.rpc.v1.Envelope (\(error))")
        }
        guard let kind = Kind(rawValue: wire.kind) else {
            throw DecodingError(description: "envelope has no valid kind")
        }
        self.kind = kind
        self.callID = wire.callID
        self.method = wire.method
        self.timeoutMilliseconds = wire.timeoutMilliseconds
        self.metadata = wire.metadata
        self.code = RPCCode(rawValue: wire.code) ?? .unknown
        self.message = wire.message
        self.payload = wire.payload
    }

    /// The whole frame: the 4-byte big-endian length, then the packed
    /// envelope, in one buffer (one allocation and one iovec per frame).
    /// The length saturates at `UInt32.max`; the frame limit rejects such a
    /// frame long before.
    func frame(allocator: ByteBufferAllocator) -> ByteBuffer {
        let wire = ProtoEnvelope(
            kind: kind.rawValue,
            callID: callID,
            method: method,
            timeoutMilliseconds: timeoutMilliseconds,
            metadata: metadata,
            code: code.rawValue,
            message: message,
            payload: payload
        )
        return wire.withPacker { size, pack in
            var buffer = allocator.buffer(capacity: RPCFrameDecoder.headerSize + size)
            buffer.writeInteger(UInt32(clamping: size), endianness: .big)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pack($0) }
            return buffer
        }
    }

    /// The size of a frame's body (the limit a peer enforces).
    static func bodySize(ofFrame frame: ByteBuffer) -> Int {
        frame.readableBytes - RPCFrameDecoder.headerSize
    }
}
