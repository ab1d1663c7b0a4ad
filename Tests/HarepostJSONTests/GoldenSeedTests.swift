import Foundation
import HarepostJSON
import HarepostProto
import HarepostTestSupport
import Testing

/// The seed documents' example responses, copied into HarepostTestSupport's Fixtures/, must come back
/// out of the bridge unchanged: same keys, same order, same types, same nulls.
@Suite("Golden seed responses")
struct GoldenSeedTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        try TestFixtures.json(name)
    }

    /// fixture JSON → message → wire bytes → message → JSON, compared with the fixture.
    static func roundTrip(_ name: String, as typeName: String) throws -> (expected: JSONValue, rendered: JSONValue) {
        let bytes = try fixture(name)
        let descriptor = try #require(MessageDescriptor.named(typeName))
        let message = try ProtoJSON.decode(bytes, as: descriptor)
        let overTheWire = try ProtoMessage(serializedBytes: message.serializedBytes(), as: descriptor)
        #expect(overTheWire == message)
        return (try JSONParser.parse(bytes), ProtoJSON.encode(overTheWire))
    }

    @Test(arguments: [
        ("harepost-get-delivery", "harepost.store.v1.Delivery"),
        ("harepost-list-deliveries", "harepost.store.v1.ListDeliveriesResponse"),
        ("hookstream-delivery-attempts-filled", "harepost.store.v1.ListDeliveryAttemptsResponse"),
    ])
    func seedResponsesRoundTripByteForByte(fixture: String, type: String) throws {
        let (expected, rendered) = try Self.roundTrip(fixture, as: type)
        #expect(rendered == expected)
        // Same key order too: compact renderings are identical bytes.
        #expect(JSONWriter.string(rendered) == JSONWriter.string(expected))
    }

    @Test func listAttemptsIsACountAndSingleAttemptsIsAnArray() throws {
        let single = try Self.roundTrip("harepost-get-delivery", as: "harepost.store.v1.Delivery").rendered
        let list = try Self.roundTrip("harepost-list-deliveries", as: "harepost.store.v1.ListDeliveriesResponse")
            .rendered
        guard case .array = single["attempts"] else { Issue.record("single attempts is not an array"); return }
        guard case .array(let data) = list["data"], case .integer(1) = data.first?["attempts"] else {
            Issue.record("list attempts is not a count")
            return
        }
        #expect(list["next_cursor"] == .null)
        #expect(single["attempts"]?.arrayFirst?["error"] == .null)
    }

    /// The hookstream seed shows placeholders ("<string>", 123, true). Our rendering
    /// of a realistic attempt has exactly its keys, and the same JSON type for each.
    @Test func hookstreamShapeMatchesTheSeedSchema() throws {
        let seed = try JSONParser.parse(try Self.fixture("hookstream-delivery-attempts"))
        var filled = try Self.roundTrip(
            "hookstream-delivery-attempts-filled",
            as: "harepost.store.v1.ListDeliveryAttemptsResponse"
        ).rendered
        // Give the nullable fields of the realistic example a value, as the seed does.
        filled = filled.replacingNulls(with: seed)
        #expect(filled.shape == seed.shape)
    }

    /// The seed marks exactly these attempt fields `| null`; they, and only they
    /// (plus timestamps, which are messages), have presence in our contract.
    @Test func hookstreamNullableFieldsAreThePresenceFields() throws {
        let nullable: Set = [
            "request_headers", "response_status", "response_headers", "response_body", "duration_ms", "error",
            "attempt_number", "next_retry_at", "is_dlq", "dlq_at", "trigger_type", "connection_name",
            "destination_name",
        ]
        let attempt = try #require(MessageDescriptor.named("harepost.store.v1.DeliveryAttempt"))
        for field in attempt.fields where field.name != "created_at" {
            #expect(field.hasPresence == nullable.contains(field.name), "\(field.name)")
        }
        let pagination = try #require(MessageDescriptor.named("harepost.store.v1.Pagination"))
        #expect(pagination.fields.filter(\.hasPresence).map(\.name) == ["next_cursor", "prev_cursor"])
        // An attempt nobody filled in renders every key, with null for each nullable one.
        let rendered = ProtoJSON.encode(ProtoMessage(attempt))
        guard case .object(let members) = rendered else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == attempt.fields.map(\.name))
        for (key, value) in members where nullable.contains(key) {
            #expect(value == .null, "\(key)")
        }
    }
}

extension JSONValue {
    var arrayFirst: JSONValue? {
        if case .array(let elements) = self { elements.first } else { nil }
    }

    /// The value with every leaf replaced by its JSON type name.
    var shape: JSONValue {
        switch self {
        case .object(let members): .object(members.map { ($0.key, $0.value.shape) })
        case .array(let elements): .array(elements.map(\.shape))
        default: .string(typeName)
        }
    }

    /// Nulls replaced by the value at the same place in `other`.
    func replacingNulls(with other: JSONValue) -> JSONValue {
        switch (self, other) {
        case (.null, _): other
        case (.object(let members), .object):
            .object(members.map { ($0.key, $0.value.replacingNulls(with: other[$0.key] ?? .null)) })
        case (.array(let elements), .array(let others)):
            .array(elements.enumerated().map { $1.replacingNulls(with: $0 < others.count ? others[$0] : .null) })
        default: self
        }
    }
}
