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

    /// The envelope's fields, looked up once: every call packs and unpacks
    /// two envelopes, and a lookup by name hashes the name each time.
    private enum Field {
        static let kind = descriptor.field(named: "kind")!
        static let callID = descriptor.field(named: "call_id")!
        static let method = descriptor.field(named: "method")!
        static let timeout = descriptor.field(named: "timeout_ms")!
        static let metadata = descriptor.field(named: "metadata")!
        static let metadataEntry = metadata.messageType!
        static let metadataKey = metadataEntry.field(named: "key")!
        static let metadataValue = metadataEntry.field(named: "value")!
        static let code = descriptor.field(named: "code")!
        static let message = descriptor.field(named: "message")!
        static let payload = descriptor.field(named: "payload")!
    }

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
        guard case .enumValue(let kindNumber)? = decoded.value(of: Field.kind), let kind = Kind(rawValue: kindNumber)
        else {
            throw DecodingError(description: "envelope has no valid kind")
        }
        self.kind = kind
        guard case .uint64(let callID)? = decoded.value(of: Field.callID) else {
            throw DecodingError(description: "envelope has no call_id")
        }
        self.callID = callID
        if case .string(let method)? = decoded.value(of: Field.method) { self.method = method }
        if case .uint64(let timeout)? = decoded.value(of: Field.timeout) { self.timeoutMilliseconds = timeout }
        for entry in decoded.values(of: Field.metadata) {
            guard let entry = entry.messageValue, case .string(let key)? = entry.value(of: Field.metadataKey) else {
                continue
            }
            if case .string(let value)? = entry.value(of: Field.metadataValue) {
                self.metadata[key] = value
            } else {
                self.metadata[key] = ""
            }
        }
        if case .enumValue(let code)? = decoded.value(of: Field.code) {
            self.code = RPCCode(rawValue: code) ?? .unknown
        }
        if case .string(let message)? = decoded.value(of: Field.message) { self.message = message }
        if case .bytes(let payload)? = decoded.value(of: Field.payload) { self.payload = payload }
    }

    /// The packed envelope, ready for the length prepender.
    func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
        var envelope = ProtoMessage(Self.descriptor)
        // Field types come from rpc.proto, compiled into this build.
        try! envelope.set(Field.kind, .enumValue(kind.rawValue))
        try! envelope.set(Field.callID, .uint64(callID))
        try! envelope.set(Field.method, .string(method))
        try! envelope.set(Field.timeout, .uint64(timeoutMilliseconds))
        if !metadata.isEmpty {
            // Sorted by key, so packing is deterministic.
            let entries = metadata.sorted { $0.key < $1.key }.map { key, value in
                var entry = ProtoMessage(Field.metadataEntry)
                try! entry.set(Field.metadataKey, .string(key))
                try! entry.set(Field.metadataValue, .string(value))
                return ProtoValue.message(entry)
            }
            try! envelope.set(Field.metadata, values: entries)
        }
        try! envelope.set(Field.code, .enumValue(code.rawValue))
        try! envelope.set(Field.message, .string(self.message))
        try! envelope.set(Field.payload, .bytes(payload))
        return allocator.buffer(bytes: envelope.serializedBytes())
    }
}
