import Foundation
import HarepostContracts
import HarepostProto
import Testing

@Suite("Contract types generated from proto/")
struct ContractTypesTests {
    /// Each generated enum names exactly the descriptor's values, with the
    /// same numbers and JSON names, and keeps numbers it does not name.
    @Test func enumsMatchTheirDescriptors() throws {
        func check<E: ProtoEnumContract & CaseIterable>(_ type: E.Type, _ message: MessageDescriptor, _ field: String)
            throws
        {
            let descriptor = try #require(message.field(named: field)?.enumType, "\(message.fullName).\(field)")
            let numbers = Set(descriptor.values.map(\.number))
            #expect(E.allCases.count == numbers.count, "\(descriptor.fullName)")
            for value in descriptor.values where descriptor.value(number: value.number) == value {
                let typed = E(rawValue: value.number)
                #expect(typed.rawValue == value.number && typed.jsonName == value.jsonName, "\(value.name)")
                #expect(E(jsonName: value.jsonName) == typed, "\(value.name)")
            }
            let unknown = (numbers.max() ?? 0) + 100
            #expect(E(rawValue: unknown).rawValue == unknown)
            #expect(!E.allCases.contains(E(rawValue: unknown)))
            #expect(E(jsonName: "no_such_value") == nil)
        }
        try check(StoreV1.DeliveryStatus.self, StoreV1.Delivery.descriptor, "status")
        try check(StoreV1.AttemptOutcome.self, StoreV1.AttemptRecord.descriptor, "outcome")
        try check(StoreV1.TriggerType.self, StoreV1.DeliveryTask.descriptor, "trigger_type")
        try check(StoreV1.Backoff.self, StoreV1.DeliveryPolicy.descriptor, "backoff")
        try check(StoreV1.Jitter.self, StoreV1.DeliveryPolicy.descriptor, "jitter")
        try check(StoreV1.DomainStatus.self, StoreV1.Domain.descriptor, "status")
        try check(AuthV1.Environment.self, AuthV1.ApiKey.descriptor, "environment")
        try check(RPCV1.Code.self, RPCV1.Envelope.descriptor, "code")
        try check(RPCV1.FrameKind.self, RPCV1.Envelope.descriptor, "kind")
        try check(RPCV1.ServingStatus.self, RPCV1.HealthCheckResponse.descriptor, "status")
        try check(GoogleProtobuf.NullValue.self, GoogleProtobuf.Value.descriptor, "null_value")
    }

    /// A typed message writes the slots the descriptor names, and packs and
    /// unpacks to the same typed values.
    @Test func typedFieldsReadAndWriteTheDescriptorsSlots() throws {
        var task = StoreV1.DeliveryTask()
        task.queueID = "hr_1"
        task.environment = .test
        task.attemptNumber = 3
        task.headers = ["X-B": "2", "X-A": "1"]
        task.body = [0, 1, 255]
        task.idempotencyKey = "key\u{0}with-nul"
        task.leaseExpiresAt = GoogleProtobuf.Timestamp(unixMilliseconds: 1_700_000_000_123)
        var policy = StoreV1.DeliveryPolicy()
        policy.maxAttempts = 7
        policy.jitter = StoreV1.Jitter.none
        task.delivery = policy

        let message = task.protoMessage
        #expect(message.string("queue_id") == "hr_1")
        #expect(message.enumName("environment") == "test")
        #expect(message.int64("attempt_number") == 3)
        #expect(message.stringMap("headers") == ["X-A": "1", "X-B": "2"])
        #expect(message["body"]?.bytesValue == [0, 1, 255])
        #expect(message.string("idempotency_key") == "key\u{0}with-nul")
        #expect(message.message("delivery")?.int64("max_attempts") == 7)

        let read = StoreV1.DeliveryTask(
            unchecked: try ProtoMessage(serializedBytes: message.serializedBytes(), as: StoreV1.DeliveryTask.descriptor)
        )
        #expect(read == task)
        #expect(read.leaseExpiresAt?.unixMilliseconds == 1_700_000_000_123)
        #expect(read.delivery?.maxAttempts == 7 && read.delivery?.jitter == StoreV1.Jitter.none)
        #expect(read.delivery?.backoff == nil && read.delivery?.timeoutMs == nil)
        #expect(read.requestID == nil && read.sign == false && read.target == "")
    }

    /// Presence: an optional field is nil until set, and holds a default
    /// value once set; a field without presence holding its default is unset,
    /// as proto3 says. Setting one member of a oneof clears the others.
    @Test func presenceAndOneofsFollowProto3() throws {
        var request = StoreV1.ListDeliveriesRequest()
        #expect(request.limit == nil && request.status == nil)
        request.limit = 0
        request.status = .unspecified
        #expect(request.limit == 0 && request.status == .unspecified)
        #expect(request.protoMessage.has("limit") && request.protoMessage.has("status"))
        request.limit = nil
        #expect(!request.protoMessage.has("limit"))

        var claim = StoreV1.ClaimDueRequest()
        claim.maxTasks = 0
        claim.workerID = ""
        #expect(claim == StoreV1.ClaimDueRequest())

        var value = GoogleProtobuf.Value()
        value.stringValue = "text"
        value.numberValue = 4.5
        #expect(value.stringValue == nil && value.numberValue == 4.5)
    }

    /// A view over a message of another type is refused.
    @Test func aViewChecksTheMessageType() throws {
        #expect(throws: ProtoError.self) { try StoreV1.SendRequest(StoreV1.SendResponse().protoMessage) }
        let send = try StoreV1.SendRequest(StoreV1.SendRequest().protoMessage)
        #expect(send.target == "")
    }

    /// Each method type names its path, and its request and response are the
    /// descriptor's.
    @Test func methodTypesMatchTheServiceDescriptors() throws {
        func check<M: RPCMethodContract>(_ method: M.Type) throws {
            let described = try #require(ServiceDescriptor.method(path: M.path), "\(M.path)")
            #expect(described.input == M.Input.descriptor && described.output == M.Output.descriptor, "\(M.path)")
        }
        try check(StoreV1.Store.Send.self)
        try check(StoreV1.Store.GetDelivery.self)
        try check(StoreV1.Store.ClaimDue.self)
        try check(StoreV1.Store.RecordAttempt.self)
        try check(AuthV1.Auth.Authenticate.self)
        try check(AuthV1.Auth.ListSigningSecrets.self)
        try check(DispatcherV1.Dispatcher.GetStatus.self)
        try check(RPCV1.Health.Check.self)
        try check(RPCV1.Metrics.Scrape.self)
    }

    /// Services and the CLI build and read messages through the contract
    /// types only: no proto type, method or field named in a string. The
    /// gateway's routes (a generic, descriptor-driven bridge) are the exception.
    @Test func servicesNameNoProtoTypeMethodOrFieldByString() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources").standardizedFileURL
        let checked = ["HarepostStore", "HarepostAuth", "HarepostDispatcher", "HarepostGateway", "harepost"]
        let patterns = [
            #""harepost\.[a-z]+\.v1\."#,
            #"ProtoMessage\(""#,
            #"[\w)\]?]\.(string|int64|bool|message|enumName|enumNumber|has|values|stringMap|set|clear)\("[a-z_]+""#,
        ].map { try! NSRegularExpression(pattern: $0) }
        var offenders: [String] = []
        var files = 0
        for directory in checked {
            let root = sources.appendingPathComponent(directory)
            let enumerator = try #require(FileManager.default.enumerator(atPath: root.path))
            for case let path as String in enumerator where path.hasSuffix(".swift") {
                if directory == "HarepostGateway" && path.hasPrefix("Routes/") { continue }
                files += 1
                let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let line = String(line)
                    let range = NSRange(line.startIndex..., in: line)
                    if patterns.contains(where: { $0.firstMatch(in: line, range: range) != nil }) {
                        offenders.append("\(directory)/\(path):\(number + 1): \(line)")
                    }
                }
            }
        }
        #expect(files > 40)
        #expect(offenders.isEmpty, "\(offenders.joined(separator: "\n"))")
    }
}
