internal import CHarepostProto

/// `harepost.rpc.v1.Envelope`, the body of every RPC frame, packed and
/// unpacked by libprotobuf-c through its generated struct.
///
/// Every RPC call packs and unpacks two envelopes, so they skip the generic
/// path (a ``ProtoMessage``, then a C message built field by field with the
/// metadata map as sub-messages): the fields go to protobuf-c as borrowed
/// pointers, packed straight into the caller's buffer.
/// Enum fields keep their wire numbers; the RPC layer gives them meaning.
public struct ProtoEnvelope: Sendable, Equatable {
    public var kind: Int32 = 0
    public var callID: UInt64 = 0
    public var method = ""
    public var timeoutMilliseconds: UInt64 = 0
    public var metadata: [String: String] = [:]
    public var code: Int32 = 0
    public var message = ""
    public var payload: [UInt8] = []

    public init(
        kind: Int32,
        callID: UInt64,
        method: String = "",
        timeoutMilliseconds: UInt64 = 0,
        metadata: [String: String] = [:],
        code: Int32 = 0,
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

    /// Unpacks wire-format bytes. Unknown fields are skipped. Strings keep
    /// every byte (U+0000 included); one that is not UTF-8 is refused.
    public init(unpacking bytes: UnsafeRawBufferPointer) throws(ProtoError) {
        self = try ProtoArena.with { arena throws(ProtoError) in
            var fields = hp_envelope_fields()
            // protobuf-c dereferences the data pointer only for a non-zero length.
            var empty: UInt8 = 0
            let unpacked = withUnsafePointer(to: &empty) { emptyPointer in
                hp_envelope_unpack(
                    arena,
                    bytes.count,
                    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer,
                    &fields
                )
            }
            guard let unpacked else { throw .malformed(message: "harepost.rpc.v1.Envelope") }
            var metadata: [String: String] = [:]
            if fields.n_metadata > 0 {
                metadata.reserveCapacity(fields.n_metadata)
                for index in 0..<fields.n_metadata {
                    var key = ProtobufCBinaryData()
                    var value = ProtobufCBinaryData()
                    hp_envelope_metadata_at(unpacked, index, &key, &value)
                    metadata[try Self.text(key)] = try Self.text(value)
                }
            }
            return ProtoEnvelope(
                kind: fields.kind,
                callID: fields.call_id,
                method: try Self.text(fields.method),
                timeoutMilliseconds: fields.timeout_ms,
                metadata: metadata,
                code: fields.code,
                message: try Self.text(fields.message),
                payload: [UInt8](UnsafeBufferPointer(start: fields.payload, count: fields.payload_len))
            )
        }
    }

    private static func text(_ data: ProtobufCBinaryData) throws(ProtoError) -> String {
        guard let text = data.utf8Text else { throw .malformed(message: "harepost.rpc.v1.Envelope") }
        return text
    }

    /// Packs the envelope: `body` gets the packed size and a function that
    /// packs into a buffer of at least that many bytes (returning the bytes
    /// written). Metadata is packed sorted by key, so packing is deterministic.
    public func withPacker<Result>(
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) -> Result
    ) -> Result {
        var method = self.method
        var message = self.message
        return method.withUTF8 { method in
            message.withUTF8 { message in
                payload.withUnsafeBufferPointer { payload in
                    withMetadata { count, keys, values in
                        var fields = hp_envelope_fields(
                            kind: kind,
                            call_id: callID,
                            method: Self.borrowed(method),
                            timeout_ms: timeoutMilliseconds,
                            n_metadata: count,
                            metadata_keys: keys,
                            metadata_values: values,
                            code: code,
                            message: Self.borrowed(message),
                            payload_len: payload.count,
                            payload: payload.baseAddress
                        )
                        let size = hp_envelope_packed_size(&fields)
                        return body(size) { buffer in
                            precondition(buffer.count >= size, "envelope buffer smaller than its packed size")
                            return hp_envelope_pack(&fields, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
                        }
                    }
                }
            }
        }
    }

    /// Bytes lent to protobuf-c, which only reads them while packing.
    private static func borrowed(_ bytes: UnsafeBufferPointer<UInt8>) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: bytes.count, data: bytes.baseAddress.map { UnsafeMutablePointer(mutating: $0) })
    }

    /// The metadata's keys and values, sorted by key, copied into one
    /// temporary allocation.
    private func withMetadata<Result>(
        _ body: (Int, UnsafePointer<ProtobufCBinaryData>?, UnsafePointer<ProtobufCBinaryData>?) -> Result
    ) -> Result {
        guard !metadata.isEmpty else { return body(0, nil, nil) }
        let entries = metadata.sorted { $0.key < $1.key }
        let byteCount = entries.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(byteCount, 1)) { storage in
            withUnsafeTemporaryAllocation(of: ProtobufCBinaryData.self, capacity: 2 * entries.count) { pointers in
                var offset = 0
                func append(_ string: String) -> ProtobufCBinaryData {
                    let start = storage.baseAddress! + offset
                    var string = string
                    let count = string.withUTF8 { utf8 in
                        if let source = utf8.baseAddress {
                            start.initialize(from: source, count: utf8.count)
                        }
                        return utf8.count
                    }
                    offset += count
                    return ProtobufCBinaryData(len: count, data: start)
                }
                for (index, entry) in entries.enumerated() {
                    pointers.initializeElement(at: index, to: append(entry.key))
                    pointers.initializeElement(at: entries.count + index, to: append(entry.value))
                }
                let base = UnsafePointer(pointers.baseAddress!)
                return body(entries.count, base, base + entries.count)
            }
        }
    }
}
