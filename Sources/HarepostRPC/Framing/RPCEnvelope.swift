import HarepostProto
import NIOCore

/// One frame's content (`harepost.rpc.v1.Envelope`), packed and unpacked by
/// protobuf-c through ``ProtoEnvelope``, which it wraps: the wire fields with
/// the kind checked and the status code typed.
struct RPCEnvelope: Sendable, Equatable {
    enum Kind: Int32 {
        case request = 1
        case response = 2
    }

    let kind: Kind
    private let wire: ProtoEnvelope

    var callID: UInt64 { wire.callID }
    var method: String { wire.method }
    var timeoutMilliseconds: UInt64 { wire.timeoutMilliseconds }
    var metadata: [String: String] { wire.metadata }
    /// A code this build does not know reads as UNKNOWN.
    var code: RPCCode { RPCCode(rawValue: wire.code) ?? .unknown }
    var message: String { wire.message }
    var payload: [UInt8] { wire.payload }

    static func request(
        callID: UInt64,
        method: String,
        timeoutMilliseconds: UInt64,
        metadata: [String: String],
        payload: [UInt8]
    ) -> RPCEnvelope {
        let wire = ProtoEnvelope(
            kind: Kind.request.rawValue,
            callID: callID,
            method: method,
            timeoutMilliseconds: timeoutMilliseconds,
            metadata: metadata,
            payload: payload
        )
        return RPCEnvelope(kind: .request, wire: wire)
    }

    static func response(callID: UInt64, payload: [UInt8]) -> RPCEnvelope {
        RPCEnvelope(
            kind: .response,
            wire: ProtoEnvelope(kind: Kind.response.rawValue, callID: callID, payload: payload)
        )
    }

    static func response(callID: UInt64, error: RPCError) -> RPCEnvelope {
        let wire = ProtoEnvelope(
            kind: Kind.response.rawValue,
            callID: callID,
            code: error.code.rawValue,
            message: error.message
        )
        return RPCEnvelope(kind: .response, wire: wire)
    }

    struct DecodingError: Error, CustomStringConvertible {
        let description: String
    }

    private init(kind: Kind, wire: ProtoEnvelope) {
        self.kind = kind
        self.wire = wire
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
        self.init(kind: kind, wire: wire)
    }

    /// The whole frame: the 4-byte big-endian length, then the packed
    /// envelope, in one buffer (one allocation and one iovec per frame).
    /// The length saturates at `UInt32.max`; the frame limit rejects such a
    /// frame long before.
    func frame(allocator: ByteBufferAllocator) -> ByteBuffer {
        wire.withPacker { size, pack in
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
