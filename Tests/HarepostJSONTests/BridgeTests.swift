import HarepostJSON
import HarepostProto
import HarepostTime
import Testing

@Suite("JSON bridge")
struct BridgeTests {
    let send = MessageDescriptor.named("harepost.store.v1.SendRequest")!
    let list = MessageDescriptor.named("harepost.store.v1.ListDeliveriesRequest")!

    func decodeError(_ json: String, as descriptor: MessageDescriptor) -> JSONBridgeError? {
        do {
            _ = try ProtoJSON.decode(Array(json.utf8), as: descriptor)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesASendWithFreeFormBodyAndMetadata() throws {
        let json = """
            {"target": "https://your-app.com/webhook", "method": "PUT", "headers": {"X-Order": "123"},
             "body": {"order": {"id": 123, "total": 42.5, "tags": ["a", null, true]}},
             "delivery": {"max_attempts": 3, "backoff": "fixed", "jitter": "none", "respect_retry_after": false},
             "idempotency_key": "ord_123-paid", "sign": true, "metadata": {"customer": "c_1"}}
            """
        let message = try ProtoJSON.decode(Array(json.utf8), as: send)
        #expect(message.stringMap("headers") == ["X-Order": "123"])
        #expect(message.message("delivery")?.enumName("backoff") == "fixed")
        let rendered = ProtoJSON.encode(message)
        #expect(
            rendered["body"]
                == (try JSONParser.parse(#"{"order": {"id": 123, "total": 42.5, "tags": ["a", null, true]}}"#))
        )
        #expect(rendered["metadata"] == .object([("customer", .string("c_1"))]))
        #expect(rendered["delivery"]?["base_delay_ms"] == .null)
        #expect(rendered["delivery"]?["max_attempts"] == .integer(3))
        // A string body stays a string.
        let plain = try ProtoJSON.decode(Array(#"{"target": "https://x.test", "body": "raw text"}"#.utf8), as: send)
        #expect(ProtoJSON.encode(plain)["body"] == .string("raw text"))
    }

    @Test func rejectsUnknownFieldsAndWrongTypesNamingTheField() {
        #expect(
            decodeError(#"{"target": "https://x.test", "colour": 1}"#, as: send)
                == JSONBridgeError(field: "colour", reason: "unknown field")
        )
        #expect(
            decodeError(#"{"target": 5}"#, as: send)
                == JSONBridgeError(field: "target", reason: "expected a string, got a number")
        )
        #expect(
            decodeError(#"{"delivery": {"max_attempts": "many"}}"#, as: send)
                == JSONBridgeError(field: "delivery.max_attempts", reason: "expected a 64-bit integer, got a string")
        )
        #expect(decodeError(#"{"delivery": {"max_attempts": 2.5}}"#, as: send)?.field == "delivery.max_attempts")
        #expect(
            decodeError(#"{"delivery": {"backoff": "linear"}}"#, as: send)
                == JSONBridgeError(field: "delivery.backoff", reason: #"must be one of "exponential", "fixed""#)
        )
        #expect(
            decodeError(#"{"headers": {"X-Order": 123}}"#, as: send)
                == JSONBridgeError(field: "headers.X-Order", reason: "expected a string, got a number")
        )
        #expect(decodeError(#"{"sign": "yes"}"#, as: send)?.field == "sign")
        #expect(
            decodeError(#"[1, 2]"#, as: send) == JSONBridgeError(field: "", reason: "expected an object, got an array")
        )
        #expect(decodeError(#"{"target": "x",}"#, as: send)?.reason.hasPrefix("invalid JSON at byte 15") == true)
    }

    /// Past Int64's range is refused on both sides: a number too large for
    /// Int64 is parsed as a double, which must not round into range.
    @Test func int64FieldsRefuseNumbersPastTheirRangeOnBothSides() throws {
        for text in ["9223372036854775808", "-9223372036854775809", "1e19", "-1e19", "9007199254740993.0"] {
            #expect(
                decodeError(#"{"delivery": {"max_attempts": \#(text)}}"#, as: send)?.field == "delivery.max_attempts",
                "\(text)"
            )
        }
        for (text, value) in [
            ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min), ("1e3", 1000), ("5.0", 5),
        ] {
            let message = try ProtoJSON.decode(Array(#"{"delivery": {"max_attempts": \#(text)}}"#.utf8), as: send)
            #expect(message.message("delivery")?.int64("max_attempts") == value, "\(text)")
        }
    }

    /// Paths through arrays name the element, and go on through the
    /// element's fields (a well-known type inside an element included).
    @Test func namesTheElementOfAnArrayThatDoesNotFit() {
        let page = MessageDescriptor.named("harepost.store.v1.ListDeliveriesResponse")!
        #expect(
            decodeError(#"{"data": [{"queue_id": "a"}, {"attempts": "two"}]}"#, as: page)
                == JSONBridgeError(field: "data[1].attempts", reason: "expected a 32-bit integer, got a string")
        )
        #expect(
            decodeError(#"{"data": [{}, {}, {"created_at": "yesterday"}]}"#, as: page)?.field == "data[2].created_at"
        )
        #expect(
            decodeError(#"{"data": [5]}"#, as: page)
                == JSONBridgeError(field: "data[0]", reason: "expected an object, got a number")
        )
        #expect(decodeError(#"{"data": {}}"#, as: page)?.field == "data")
    }

    @Test func nullLeavesAFieldUnset() throws {
        let message = try ProtoJSON.decode(
            Array(#"{"target": "https://x.test", "idempotency_key": null}"#.utf8),
            as: send
        )
        #expect(message["idempotency_key"] == nil)
        #expect(ProtoJSON.encode(message)["idempotency_key"] == .null)
    }

    @Test func bindsQueryTextByFieldType() throws {
        let status = try #require(list.field(named: "status"))
        let limit = try #require(list.field(named: "limit"))
        #expect(try ProtoJSON.decodeText("dead_letter", for: status, path: "status") == .enumValue(5))
        #expect(
            throws: JSONBridgeError(
                field: "status",
                reason: #"must be one of "queued", "retrying", "delivered", "rejected", "dead_letter""#
            )
        ) {
            try ProtoJSON.decodeText("bogus", for: status, path: "status")
        }
        #expect(
            throws: JSONBridgeError(
                field: "status",
                reason: #"must be one of "queued", "retrying", "delivered", "rejected", "dead_letter""#
            )
        ) {
            try ProtoJSON.decodeText("unspecified", for: status, path: "status")
        }
        #expect(try ProtoJSON.decodeText("50", for: limit, path: "limit") == .int32(50))
        #expect(throws: JSONBridgeError(field: "limit", reason: #"expected a 32-bit integer, got "abc""#)) {
            try ProtoJSON.decodeText("abc", for: limit, path: "limit")
        }
    }

    @Test func rendersEveryIntegerAsANumberAndBytesAsBase64() throws {
        var task = try ProtoMessage("harepost.store.v1.DeliveryTask")
        try task.set("body", .bytes(Array("hi".utf8)))
        try task.set("attempt_number", .int32(2))
        var envelope = try ProtoMessage("harepost.rpc.v1.Envelope")
        try envelope.set("call_id", .uint64(UInt64(Int64.max) + 1))
        try envelope.set("timeout_ms", .uint64(1500))
        #expect(ProtoJSON.encode(task)["body"] == .string("aGk="))
        #expect(ProtoJSON.encode(envelope)["timeout_ms"] == .integer(1500))
        #expect(ProtoJSON.encode(envelope)["code"] == .string("ok"))
        let back = try ProtoJSON.decode(ProtoJSON.encode(task), as: task.descriptor)
        #expect(back == task)
    }

    /// The bytes themselves: every field in declaration order, absent ones
    /// `null`, and the number forms at their edges (a `Value` number is a
    /// double: whole ones are written as integers while they are exact, so
    /// 2^63 - 1, which rounds to 2^63, is not).
    @Test func writesMessagesByteForByte() throws {
        var envelope = try ProtoMessage("harepost.rpc.v1.Envelope")
        try envelope.set("call_id", .uint64(UInt64(Int64.max) + 1))
        #expect(
            String(decoding: ProtoJSON.encodeBytes(envelope), as: UTF8.self)
                == #"{"kind":null,"call_id":9.223372036854776e+18,"method":"","timeout_ms":0,"metadata":{},"code":"ok","message":"","payload":""}"#
        )
        let body = try ProtoJSON.decode(
            Array(
                #"""
                {"target": "https://x.test/\"q\"", "headers": {"B": "\u0001"},
                 "body": {"n": [0, 9, 10, -1, 9223372036854775807, -9223372036854775808, 1e15, 1e16, 0.1, -2.5,
                                1e300, true, null, "s", {}, []]}}
                """#.utf8
            ),
            as: send
        )
        let json = String(decoding: ProtoJSON.encodeBytes(body), as: UTF8.self)
        #expect(
            json
                == #"{"target":"https://x.test/\"q\"","method":null,"headers":{"B":"\u0001"},"#
                + #""body":{"n":[0,9,10,-1,9.223372036854776e+18,-9223372036854775808,1000000000000000,10000000000000000,0.1,-2.5,"#
                + #"1e+300,true,null,"s",{},[]]},"delivery":null,"idempotency_key":null,"sign":false,"metadata":null}"#
        )
        // The tree form is the same document.
        #expect(ProtoJSON.encode(body) == (try JSONParser.parse(json)))
    }

    /// A map may repeat a key on the wire, and the last entry wins; a JSON
    /// object may not repeat one. Nesting deeper than the parser's limit for
    /// untrusted input still reads back as a tree.
    @Test func repeatedMapKeysKeepTheLastAndDeepValuesReadBack() throws {
        func entry(_ type: String, _ key: String, _ value: ProtoValue) throws -> ProtoValue {
            .message(try ProtoMessage(type, ["key": .string(key), "value": value]))
        }
        func structField(_ key: String, _ text: String) throws -> ProtoValue {
            let value = try ProtoMessage("google.protobuf.Value", ["string_value": .string(text)])
            return try entry("google.protobuf.Struct.FieldsEntry", key, .message(value))
        }
        var request = try ProtoMessage("harepost.store.v1.SendRequest")
        try request.set(
            "headers",
            values: [
                try entry("harepost.store.v1.SendRequest.HeadersEntry", "A", .string("first")),
                try entry("harepost.store.v1.SendRequest.HeadersEntry", "B", .string("b")),
                try entry("harepost.store.v1.SendRequest.HeadersEntry", "A", .string("last")),
            ]
        )
        var metadata = try ProtoMessage("google.protobuf.Struct")
        try metadata.set(
            "fields",
            values: [try structField("k", "first"), try structField("k", "last")]
        )
        try request.set("metadata", .message(metadata))
        let json = String(decoding: ProtoJSON.encodeBytes(request), as: UTF8.self)
        #expect(json.contains(#""headers":{"B":"b","A":"last"}"#))
        #expect(json.contains(#""metadata":{"k":"last"}"#))
        #expect(ProtoJSON.encode(request)["headers"]?["A"] == .string("last"))
        // Past 16 entries the keys are indexed instead of compared in place.
        try request.set(
            "headers",
            values: try (0..<20).map { index in
                try entry("harepost.store.v1.SendRequest.HeadersEntry", "H\(index % 18)", .string("\(index)"))
            }
        )
        let many = ProtoJSON.encode(request)["headers"]
        let members = try #require({ if case .object(let members) = many { members } else { nil } }())
        #expect(members.count == 18)
        #expect(many?["H0"] == .string("18") && many?["H1"] == .string("19") && many?["H2"] == .string("2"))

        var deep = try ProtoMessage("google.protobuf.Value", ["string_value": .string("core")])
        for _ in 0..<(JSONParser.maximumDepth + 10) {
            var list = try ProtoMessage("google.protobuf.ListValue")
            try list.set("values", values: [.message(deep)])
            deep = try ProtoMessage("google.protobuf.Value", ["list_value": .message(list)])
        }
        var value = ProtoJSON.encode(deep)
        var levels = 0
        while case .array(let elements) = value, let only = elements.first {
            levels += 1
            value = only
        }
        #expect(levels == JSONParser.maximumDepth + 10)
        #expect(value == .string("core"))
    }
}

@Suite("JSON parser and writer")
struct JSONTests {
    @Test func parsesAndWritesStrictJSON() throws {
        let text = #"{"a":[1,-2.5,1e3,true,false,null],"b":"q\"\\\/\n\u00e9\ud83d\ude00","c":{}}"#
        let value = try JSONParser.parse(text)
        #expect(value["a"] == .array([.integer(1), .double(-2.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(value["b"] == .string("q\"\\/\né😀"))
        #expect(try JSONParser.parse(JSONWriter.bytes(value)) == value)
        #expect(JSONWriter.string(.string("\u{1}")) == #""\u0001""#)
        // Escapes at the start, in the middle and at the end of runs.
        #expect(JSONWriter.string(.string("\"a\tb\u{1F}c\\é\r\n")) == #""\"a\tb\u001fc\\é\r\n""#)
        #expect(JSONWriter.string(.string("")) == "\"\"")
    }

    @Test(arguments: [
        "", "{", "[1,]", "01", "1.", "tru", #"{"a" 1}"#, #"{"a":1}x"#, "\"\u{1}\"", #""\ud800""#, #"{"a":1,"a":2}"#,
        "1e999",
    ])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    /// Strings without escapes are validated in place, those with escapes
    /// after unescaping: invalid UTF-8 is refused on both paths, at the
    /// string's offset.
    @Test func refusesInvalidUTF8InStrings() throws {
        func failure(_ bytes: [UInt8]) -> JSONParseError? {
            do {
                _ = try JSONParser.parse(bytes)
                return nil
            } catch {
                return error
            }
        }
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // {"a":"<C3 28>"}: no escapes.
        let plain =
            Array("{".utf8) + [quote, UInt8(ascii: "a"), quote, UInt8(ascii: ":"), quote, 0xC3, 0x28, quote]
            + Array("}".utf8)
        #expect(failure(plain)?.reason == "string is not valid UTF-8")
        #expect(failure(plain)?.offset == 6)
        // ["\n<FF>"]: an escape first.
        let escaped = [UInt8(ascii: "["), quote, backslash, UInt8(ascii: "n"), 0xFF, quote, UInt8(ascii: "]")]
        #expect(failure(escaped)?.reason == "string is not valid UTF-8")
        #expect(failure(escaped)?.offset == 2)
        let long = String(repeating: "é", count: 40)
        let strings: JSONValue = .array([.string(long), .string("é"), .string("")])
        #expect(try JSONParser.parse(JSONWriter.bytes(strings)) == strings)
    }

    @Test func limitsNesting() {
        let limit = JSONParser.maximumDepth
        let deep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        #expect(error?.reason == "nested too deeply (more than 32 levels)")
        let ok = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }
}

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test func formatsUTCWithZ() {
        #expect(RFC3339.format(seconds: 1_781_101_330) == "2026-06-10T14:22:10Z")
        #expect(RFC3339.format(seconds: 0, nanos: 5_000_000) == "1970-01-01T00:00:00.005Z")
        #expect(RFC3339.format(seconds: -1) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(seconds: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(RFC3339.format(seconds: 0, nanos: 120_000) == "1970-01-01T00:00:00.000120Z")
        #expect(RFC3339.format(seconds: 0, nanos: 7) == "1970-01-01T00:00:00.000000007Z")
        #expect(RFC3339.format(seconds: -62_135_596_800) == "0001-01-01T00:00:00Z")
        #expect(RFC3339.format(seconds: 253_402_300_799, nanos: 999_999_999) == "9999-12-31T23:59:59.999999999Z")
        // Past the four-digit years a Timestamp allows, the year just grows.
        #expect(RFC3339.format(seconds: 253_402_300_800) == "10000-01-01T00:00:00Z")
    }

    @Test func parsesWhatItFormatsAndOffsets() throws {
        for seconds in stride(from: Int64(-5_000_000_000), through: 5_000_000_000, by: 86_399_937) {
            let parsed = try #require(RFC3339.parse(RFC3339.format(seconds: seconds, nanos: 120_000)))
            #expect(parsed.seconds == seconds && parsed.nanos == 120_000)
        }
        #expect(RFC3339.parse("2026-06-10T16:22:10+02:00")?.seconds == 1_781_101_330)
        #expect(RFC3339.parse("2026-02-30T00:00:00Z") == nil)
        #expect(RFC3339.parse("2026-06-10 14:22") == nil)
        #expect(RFC3339.parse("2026-06-10T14:22:10") == nil)
    }
}
