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

    static let descriptor = MessageDescriptor.named("harepost.rpc.v1.Envelope")!

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

    /// Unpacks a frame. Throws for bytes that are not an envelope, or an envelope
    /// of unknown kind: the connection that sent it is then closed.
    init(frame: ByteBuffer) throws {
        let decoded: ProtoMessage
        do {
            decoded = try frame.readableBytesView.withUnsafeBytes {
                try ProtoMessage(serializedBytes: $0, as: Self.descriptor)
            }
        } catch {
            throw DecodingError(description: "frame is not a harepost.rpc.v1.Envelope (\(error))")
        }
        guard let kindNumber = decoded.enumNumber("kind"), let kind = Kind(rawValue: kindNumber) else {
            throw DecodingError(description: "envelope has no valid kind")
        }
        self.kind = kind
        guard case .uint64(let callID)? = decoded["call_id"] else {
            throw DecodingError(description: "envelope has no call_id")
        }
        self.callID = callID
        self.method = decoded.string("method") ?? ""
        if case .uint64(let timeout)? = decoded["timeout_ms"] { self.timeoutMilliseconds = timeout }
        self.metadata = decoded.stringMap("metadata")
        self.code = RPCCode(rawValue: decoded.enumNumber("code") ?? 2) ?? .unknown
        self.message = decoded.string("message") ?? ""
        self.payload = decoded["payload"]?.bytesValue ?? []
    }

    /// The packed envelope, ready for the length prepender.
    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        var envelope = ProtoMessage(Self.descriptor)
        // Field names and types come from rpc.proto, compiled into this build.
        try! envelope.set("kind", .enumValue(kind.rawValue))
        try! envelope.set("call_id", .uint64(callID))
        try! envelope.set("method", .string(method))
        try! envelope.set("timeout_ms", .uint64(timeoutMilliseconds))
        if !metadata.isEmpty { try! envelope.set("metadata", stringMap: metadata) }
        try! envelope.set("code", .enumValue(code.rawValue))
        try! envelope.set("message", .string(self.message))
        try! envelope.set("payload", .bytes(payload))
        return allocator.buffer(bytes: envelope.serializedBytes())
    }
}
