import Testing

@testable import HarepostProto

@Suite("ProtoEnvelope: the RPC frame body through protobuf-c's generated struct")
struct ProtoEnvelopeTests {
    static func request(metadataCount: Int = 3) -> ProtoEnvelope {
        var metadata: [String: String] = [:]
        for index in 0..<metadataCount {
            metadata["key-\(index)"] = "value \(index) é"
        }
        return ProtoEnvelope(
            kind: 1,
            callID: 1 << 40,
            method: "harepost.store.v1.Store/GetDelivery",
            timeoutMilliseconds: 2_500,
            metadata: metadata,
            payload: Array(0...255)
        )
    }

    static func packed(_ envelope: ProtoEnvelope) -> [UInt8] {
        envelope.withPacker { size, pack in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                initialized = pack(UnsafeMutableRawBufferPointer(buffer))
            }
        }
    }

    /// The same message through the generic descriptor path.
    static func generic(_ envelope: ProtoEnvelope) throws -> ProtoMessage {
        var message = try ProtoMessage("harepost.rpc.v1.Envelope")
        try message.set("kind", .enumValue(envelope.kind))
        try message.set("call_id", .uint64(envelope.callID))
        try message.set("method", .string(envelope.method))
        try message.set("timeout_ms", .uint64(envelope.timeoutMilliseconds))
        let entries = try envelope.metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = try ProtoMessage("harepost.rpc.v1.Envelope.MetadataEntry")
            try entry.set("key", .string(key))
            try entry.set("value", .string(value))
            return ProtoValue.message(entry)
        }
        try message.set("metadata", values: entries)
        try message.set("code", .enumValue(envelope.code))
        try message.set("message", .string(envelope.message))
        try message.set("payload", .bytes(envelope.payload))
        return message
    }

    /// Requests with no metadata, with metadata built on the stack, and with
    /// more entries than the stack holds; an error response.
    @Test(arguments: [0, 3, 40])
    func roundTripsAndMatchesTheGenericPacking(metadataCount: Int) throws {
        let request = Self.request(metadataCount: metadataCount)
        let bytes = Self.packed(request)
        #expect(bytes == (try Self.generic(request).serializedBytes()))
        #expect(try bytes.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) } == request)
        let generic = try Self.generic(request).serializedBytes()
        #expect(try generic.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) } == request)
    }

    @Test func errorResponsesRoundTrip() throws {
        let response = ProtoEnvelope(kind: 2, callID: 9, code: 5, message: "no delivery hr_1")
        let bytes = Self.packed(response)
        #expect(try bytes.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) } == response)
        let empty = ProtoEnvelope(kind: 0, callID: 0)
        #expect(Self.packed(empty).isEmpty)
        #expect(try [UInt8]().withUnsafeBytes { try ProtoEnvelope(unpacking: $0) } == empty)
    }

    /// Strings travel with their length: U+0000 is kept, not a terminator.
    @Test func stringsKeepEveryByteIncludingNul() throws {
        let envelope = ProtoEnvelope(
            kind: 2,
            callID: 1,
            method: "a/b\u{0}c",
            metadata: ["a\u{0}b": "c\u{0}d", "a": "c"],
            message: "bad\u{0}input"
        )
        let decoded = try Self.packed(envelope).withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        #expect(decoded == envelope)
    }

    /// proto3 strings are UTF-8: an envelope whose method is not is refused.
    @Test func stringsThatAreNotUTF8AreRefused() {
        // Field 3 (method), 2 bytes: a lone continuation byte and 0xff.
        let bytes: [UInt8] = [0x1a, 0x02, 0x80, 0xff]
        #expect(throws: ProtoError.self) {
            try bytes.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        }
    }

    @Test func rejectsBytesThatAreNotAnEnvelope() {
        // Field 3 (method) announces 10 bytes; 1 follows.
        #expect(throws: ProtoError.self) {
            try [0x1a, 0x0a, 0x41].withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        }
        #expect(throws: ProtoError.self) {
            try [0xff, 0xff, 0xff].withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        }
    }

    /// Packing borrows; unpacking frees what protobuf-c allocated, also when
    /// it gives up half-way (the loops run on one thread: see ProtoMessageTests).
    /// 200 metadata entries outgrow the arena's stack part.
    @Test func freesEveryAllocation() throws {
        let request = Self.request(metadataCount: 200)
        let before = ProtoArenaProbe.liveBlocksOnThisThread
        let bytes = Self.packed(request)
        for _ in 0..<200 {
            let decoded = try bytes.withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
            precondition(decoded == request)
        }
        for length in 0..<bytes.count {
            _ = try? bytes[0..<length].withUnsafeBytes { try ProtoEnvelope(unpacking: $0) }
        }
        #expect(ProtoArenaProbe.liveBlocksOnThisThread == before)
    }
}
