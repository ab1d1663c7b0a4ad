import Foundation
import Testing

@testable import HarepostProto

@Suite("ProtoMessage over protobuf-c")
struct ProtoMessageTests {
    static func sendRequest() throws -> ProtoMessage {
        var body = try ProtoMessage("google.protobuf.Value")
        var structValue = try ProtoMessage("google.protobuf.Struct")
        var field = try ProtoMessage("google.protobuf.Struct.FieldsEntry")
        var amount = try ProtoMessage("google.protobuf.Value")
        try amount.set("number_value", .double(42.5))
        try field.set("key", .string("amount"))
        try field.set("value", .message(amount))
        try structValue.set("fields", values: [.message(field)])
        try body.set("struct_value", .message(structValue))

        var policy = try ProtoMessage("harepost.store.v1.DeliveryPolicy")
        try policy.set("max_attempts", .int64(3))
        try policy.set("backoff", enumName: "fixed")
        try policy.set("respect_retry_after", .bool(false))

        var request = try ProtoMessage("harepost.store.v1.SendRequest")
        try request.set("target", .string("https://your-app.com/webhook"))
        try request.set("method", .string("PUT"))
        try request.set("headers", stringMap: ["X-Order": "123", "Content-Type": "application/json"])
        try request.set("body", .message(body))
        try request.set("delivery", .message(policy))
        try request.set("idempotency_key", .string("ord_123-paid"))
        try request.set("sign", .bool(true))
        return request
    }

    @Test func roundTripsThroughTheWire() throws {
        let request = try Self.sendRequest()
        let bytes = request.serializedBytes()
        #expect(!bytes.isEmpty)
        let decoded = try ProtoMessage(serializedBytes: bytes, as: request.descriptor)
        #expect(decoded == request)
        #expect(decoded.string("target") == "https://your-app.com/webhook")
        #expect(decoded.stringMap("headers") == ["X-Order": "123", "Content-Type": "application/json"])
        #expect(decoded.message("delivery")?.enumName("backoff") == "fixed")
        #expect(decoded.message("delivery")?.bool("respect_retry_after") == false)
        #expect(decoded.message("delivery")?["base_delay_ms"] == nil)
        #expect(decoded.message("body")?.message("struct_value")?.values("fields").count == 1)
    }

    /// Strings travel with their length: U+0000 in a field, a map key or
    /// value, or a Struct key is a byte like any other, both ways.
    @Test func stringsKeepEveryByteIncludingNul() throws {
        var inner = try ProtoMessage("google.protobuf.Value")
        try inner.set("string_value", .string("x\u{0}y"))
        var entry = try ProtoMessage("google.protobuf.Struct.FieldsEntry")
        try entry.set("key", .string("k\u{0}"))
        try entry.set("value", .message(inner))
        var structValue = try ProtoMessage("google.protobuf.Struct")
        try structValue.set("fields", values: [.message(entry)])
        var body = try ProtoMessage("google.protobuf.Value")
        try body.set("struct_value", .message(structValue))
        var request = try ProtoMessage("harepost.store.v1.SendRequest")
        try request.set("idempotency_key", .string("K\u{0}A"))
        try request.set("headers", stringMap: ["X-A\u{0}": "v\u{0}w"])
        try request.set("body", .message(body))
        let decoded = try ProtoMessage(serializedBytes: request.serializedBytes(), as: request.descriptor)
        #expect(decoded == request)
        #expect(decoded.string("idempotency_key") == "K\u{0}A")
        #expect(decoded.stringMap("headers") == ["X-A\u{0}": "v\u{0}w"])
        // Different after the NUL is different.
        var other = request
        try other.set("idempotency_key", .string("K\u{0}B"))
        #expect(other.serializedBytes() != request.serializedBytes())
    }

    /// proto3 strings are UTF-8: bytes that are not are refused, not repaired.
    @Test func stringFieldsThatAreNotUTF8AreRefused() throws {
        let descriptor = try #require(MessageDescriptor.named("harepost.store.v1.SendRequest"))
        // Field 6 (idempotency_key), 3 bytes: "a", 0xc3 (a truncated sequence), "b".
        let bytes: [UInt8] = [0x32, 0x03, 0x61, 0xc3, 0x62]
        #expect(throws: ProtoError.invalidUTF8(message: "harepost.store.v1.SendRequest", field: "idempotency_key")) {
            try ProtoMessage(serializedBytes: bytes, as: descriptor)
        }
    }

    @Test func presenceFieldsAreAbsentUntilSetAndDefaultsAreNot() throws {
        var delivery = try ProtoMessage("harepost.store.v1.Delivery")
        #expect(delivery["last_status"] == nil)  // oneof presence
        #expect(delivery["created_at"] == nil)  // message presence
        #expect(delivery["queue_id"] == .string(""))  // proto3 default
        try delivery.set("last_status", .int32(0))
        let decoded = try ProtoMessage(serializedBytes: delivery.serializedBytes(), as: delivery.descriptor)
        #expect(decoded["last_status"] == .int32(0))  // present zero survives the wire
        #expect(decoded["idempotency_key"] == nil)
    }

    @Test func settingOneOneofMemberClearsTheOthers() throws {
        var value = try ProtoMessage("google.protobuf.Value")
        try value.set("string_value", .string("x"))
        try value.set("bool_value", .bool(false))
        #expect(value["string_value"] == nil)
        let decoded = try ProtoMessage(serializedBytes: value.serializedBytes(), as: value.descriptor)
        #expect(decoded["bool_value"] == .bool(false))
        #expect(decoded["string_value"] == nil)
    }

    @Test func rejectsValuesOfTheWrongTypeNamingTheField() throws {
        var request = try ProtoMessage("harepost.store.v1.SendRequest")
        #expect(
            throws: ProtoError.typeMismatch(
                message: "harepost.store.v1.SendRequest",
                field: "target",
                expected: "a string"
            )
        ) {
            try request.set("target", .int32(1))
        }
        #expect(throws: ProtoError.unknownField(message: "harepost.store.v1.SendRequest", field: "nope")) {
            try request.set("nope", .string("x"))
        }
        #expect(throws: ProtoError.unknownMessage("harepost.nope.Nope")) { try ProtoMessage("harepost.nope.Nope") }
    }

    @Test func malformedBytesAreAnErrorNotACrash() throws {
        let descriptor = try #require(MessageDescriptor.named("harepost.store.v1.SendRequest"))
        // Field 1 (string) claims 100 bytes but only 2 follow.
        #expect(throws: ProtoError.malformed(message: descriptor.fullName)) {
            try ProtoMessage(serializedBytes: [0x0a, 100, 0x41, 0x42], as: descriptor)
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0..<64, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            _ = try? ProtoMessage(serializedBytes: garbage, as: descriptor)
        }
    }

    @Test func refusesHostileNestingBeforeProtobufCRecurses() throws {
        let listType = try #require(MessageDescriptor.named("google.protobuf.ListValue"))
        // ListValue{values: [Value{list_value: ListValue{...}}]}, 400 levels, built by hand.
        var bytes: [UInt8] = []
        for _ in 0..<200 {
            let list = [0x0a] + varint(bytes.count) + bytes  // ListValue.values = 1
            bytes = [0x32] + varint(list.count) + list  // Value.list_value = 6
        }
        #expect(throws: ProtoError.nestingTooDeep(message: listType.fullName)) {
            try ProtoMessage(serializedBytes: [0x0a] + varint(bytes.count) + bytes, as: listType)
        }
    }

    @Test func unknownFieldsAreSkippedUnscannedWhateverTheirNumber() throws {
        let listType = try #require(MessageDescriptor.named("google.protobuf.ListValue"))
        // Bytes that would nest 400 levels deep if read as a ListValue.
        var deep: [UInt8] = []
        for _ in 0..<200 {
            let list = [0x0a] + varint(deep.count) + deep
            deep = [0x32] + varint(list.count) + list
        }
        let value: [UInt8] = [0x1a, 0x02, 0x68, 0x69]  // Value.string_value = "hi"
        // Unknown length-delimited fields 50 (inside the descriptor's number
        // table) and 3000 (past it) carry them; the scan must not descend.
        let bytes =
            varint(50 << 3 | 2) + varint(deep.count) + deep
            + varint(3000 << 3 | 2) + varint(deep.count) + deep
            + [0x0a] + varint(value.count) + value
        let message = try ProtoMessage(serializedBytes: bytes, as: listType)
        let values = message.values(of: try #require(listType.field(named: "values")))
        #expect(values.count == 1)
    }

    @Test func servicesAndMethodsComeFromTheDescriptors() throws {
        let names = ServiceDescriptor.all.map(\.fullName)
        #expect(
            names == [
                "harepost.auth.v1.Auth", "harepost.dispatcher.v1.Dispatcher", "harepost.rpc.v1.Health",
                "harepost.rpc.v1.Metrics", "harepost.store.v1.Store",
            ]
        )
        let method = try #require(ServiceDescriptor.method(path: "harepost.store.v1.Store/GetDelivery"))
        #expect(method.input.fullName == "harepost.store.v1.GetDeliveryRequest")
        #expect(method.output.fullName == "harepost.store.v1.GetDeliveryResponse")
    }

    @Test func enumJSONNamesDropTheTypePrefix() throws {
        let status = try #require(
            MessageDescriptor.named("harepost.store.v1.Delivery")?.field(named: "status")?.enumType
        )
        #expect(
            status.values.map(\.jsonName) == [
                "unspecified", "queued", "retrying", "delivered", "rejected", "dead_letter",
            ]
        )
        let code = try #require(MessageDescriptor.named("harepost.rpc.v1.Envelope")?.field(named: "code")?.enumType)
        #expect(code.value(number: 4)?.jsonName == "deadline_exceeded")
    }

    /// A send request too big for the part of the arena on the stack: a
    /// 64 KiB string body and 200 headers.
    static func largeSendRequest() throws -> ProtoMessage {
        var request = try sendRequest()
        var body = try ProtoMessage("google.protobuf.Value")
        try body.set("string_value", .string(String(repeating: "x", count: 64 << 10)))
        try request.set("body", .message(body))
        let headers = Dictionary(uniqueKeysWithValues: (0..<200).map { ("X-Header-\($0)", "value \($0)") })
        try request.set("headers", stringMap: headers)
        return request
    }

    /// Every arena block a round trip takes (building, packing, unpacking
    /// and reading C messages) is freed exactly once, also for messages that
    /// outgrow the arena's stack part. The loop is synchronous, so it runs on
    /// one thread and the per-thread count of live blocks must come back to
    /// where it started (other tests, on other threads, cannot disturb it).
    @Test func roundTripsFreeEveryAllocation() throws {
        let before = ProtoArenaProbe.liveBlocksOnThisThread
        for request in [try Self.sendRequest(), try Self.largeSendRequest()] {
            for _ in 0..<200 {
                let decoded = try ProtoMessage(serializedBytes: request.serializedBytes(), as: request.descriptor)
                precondition(decoded == request)
            }
            #expect(ProtoArenaProbe.liveBlocksOnThisThread == before)
            // Malformed input frees what protobuf-c allocated before it gave up.
            let bytes = request.serializedBytes()
            for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 500)) {
                _ = try? ProtoMessage(serializedBytes: Array(bytes[0..<length]), as: request.descriptor)
            }
            #expect(ProtoArenaProbe.liveBlocksOnThisThread == before)
        }
    }

    /// The arena hands out aligned, distinct memory from the caller's buffer
    /// first, then from blocks it takes (one for an allocation bigger than a
    /// block), and frees them all on release.
    @Test func theArenaAllocatesAlignedMemoryAndReleasesItsBlocks() {
        let before = ProtoArenaProbe.liveBlocksOnThisThread
        ProtoArenaProbe.withArena(bufferBytes: 512) { allocate, buffer in
            var pointers: [UnsafeMutableRawPointer] = []
            for size in [1, 7, 16, 100, 300, 5000, 3, 20_000, 64] {
                let pointer = allocate(size)!
                #expect(Int(bitPattern: pointer) % 16 == 0)
                pointer.initializeMemory(as: UInt8.self, repeating: UInt8(size & 0xff), count: size)
                pointers.append(pointer)
            }
            // Nothing written later overwrote an earlier allocation.
            for (pointer, size) in zip(pointers, [1, 7, 16, 100, 300, 5000, 3, 20_000, 64]) {
                let bytes = UnsafeRawBufferPointer(start: pointer, count: size)
                #expect(bytes.allSatisfy { $0 == UInt8(size & 0xff) })
            }
            let start = UnsafeMutableRawPointer(buffer.baseAddress!)
            #expect(pointers[0] >= start && pointers[0] < start + buffer.count)
            #expect(ProtoArenaProbe.liveBlocksOnThisThread > before)
        }
        #expect(ProtoArenaProbe.liveBlocksOnThisThread == before)
    }
}

func varint(_ value: Int) -> [UInt8] {
    var value = UInt64(value)
    var bytes: [UInt8] = []
    repeat {
        let low = UInt8(value & 0x7f)
        value >>= 7
        bytes.append(value == 0 ? low : low | 0x80)
    } while value != 0
    return bytes
}
