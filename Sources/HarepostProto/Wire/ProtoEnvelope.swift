internal import CHarepostProto

/// `harepost.rpc.v1.Envelope`, the body of every RPC frame, packed and
/// unpacked by libprotobuf-c through its generated struct.
///
/// Every RPC call packs and unpacks two envelopes, so they skip the generic
/// path (a ``ProtoMessage``, then a C message built field by field with the
/// metadata map as sub-messages): the fields go to protobuf-c as borrowed
/// pointers, packed straight into the caller's buffer (docs/benchmarks.md).
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

    /// Unpacks wire-format bytes. Unknown fields are skipped. Strings cut at
    /// a NUL byte on the way in (protobuf-c keeps them NUL-terminated), so they
    /// do on the way out too.
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
                    var key: UnsafePointer<CChar>?
                    var value: UnsafePointer<CChar>?
                    hp_envelope_metadata_at(unpacked, index, &key, &value)
                    metadata[String(cString: key!)] = String(cString: value!)
                }
            }
            return ProtoEnvelope(
                kind: fields.kind,
                callID: fields.call_id,
                method: String(cString: fields.method),
                timeoutMilliseconds: fields.timeout_ms,
                metadata: metadata,
                code: fields.code,
                message: String(cString: fields.message),
                payload: [UInt8](UnsafeBufferPointer(start: fields.payload, count: fields.payload_len))
            )
        }
    }

    /// Packs the envelope: `body` gets the packed size and a function that
    /// packs into a buffer of at least that many bytes (returning the bytes
    /// written). Metadata is packed sorted by key, so packing is deterministic.
    public func withPacker<Result>(
        _ body: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) -> Result
    ) -> Result {
        method.withCString { method in
            message.withCString { message in
                payload.withUnsafeBufferPointer { payload in
                    withMetadataPointers { count, keys, values in
                        var fields = hp_envelope_fields(
                            kind: kind,
                            call_id: callID,
                            method: method,
                            timeout_ms: timeoutMilliseconds,
                            n_metadata: count,
                            metadata_keys: keys,
                            metadata_values: values,
                            code: code,
                            message: message,
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

    /// The metadata as NUL-terminated keys and values, sorted by key, in one
    /// temporary allocation.
    private func withMetadataPointers<Result>(
        _ body: (Int, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    ) -> Result {
        guard !metadata.isEmpty else { return body(0, nil, nil) }
        let entries = metadata.sorted { $0.key < $1.key }
        let byteCount = entries.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: byteCount) { storage in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: 2 * entries.count) { pointers in
                var offset = 0
                func append(_ string: String) -> UnsafePointer<CChar> {
                    let start = storage.baseAddress! + offset
                    var string = string
                    string.withUTF8 { utf8 in
                        if let source = utf8.baseAddress {
                            UnsafeMutableRawPointer(start).copyMemory(from: source, byteCount: utf8.count)
                        }
                        offset += utf8.count
                    }
                    storage[offset] = 0
                    offset += 1
                    return UnsafePointer(start)
                }
                for (index, entry) in entries.enumerated() {
                    pointers[index] = append(entry.key)
                    pointers[entries.count + index] = append(entry.value)
                }
                let base = UnsafePointer(pointers.baseAddress!)
                return body(entries.count, base, base + entries.count)
            }
        }
    }
}
