internal import CHarepostProto

/// Every message, enum and service compiled into the C target, indexed once.
///
/// Built from the registry that `scripts/generate-protos.sh` generates, so a new
/// proto file needs no Swift change.
final class ProtoRegistry: Sendable {
    static let shared = ProtoRegistry()

    nonisolated(unsafe) private let messagesByAddress: [UnsafeRawPointer: MessageDescriptor]
    /// Also what keeps every enum descriptor alive: fields refer to their
    /// types unretained (``FieldDescriptor/enumType``).
    nonisolated(unsafe) private let enumsByAddress: [UnsafeRawPointer: EnumDescriptor]
    private let messagesByName: [String: MessageDescriptor]
    private let servicesByName: [String: ServiceDescriptor]
    private let methodsByPath: [String: ServiceDescriptor.Method]

    private init() {
        var messagesByAddress: [UnsafeRawPointer: MessageDescriptor] = [:]
        var enumsByAddress: [UnsafeRawPointer: EnumDescriptor] = [:]
        for index in 0..<hp_registry_message_count() {
            let raw = hp_registry_message_at(index)!
            let message = MessageDescriptor(raw)
            messagesByAddress[UnsafeRawPointer(raw)] = message
            for field in message.fields {
                if let rawEnum = field.rawEnumType, enumsByAddress[UnsafeRawPointer(rawEnum)] == nil {
                    enumsByAddress[UnsafeRawPointer(rawEnum)] = EnumDescriptor(rawEnum)
                }
            }
        }
        // The fields proto/ declares as string, which the C code carries as bytes.
        var textFields: [String: Set<Int32>] = [:]
        for index in 0..<hp_registry_string_field_count() {
            let entry = hp_registry_string_field_at(index)!.pointee
            textFields[String(cString: entry.message), default: []].insert(Int32(bitPattern: entry.number))
        }
        for message in messagesByAddress.values {
            message.resolveFieldTypes(
                message: { messagesByAddress[UnsafeRawPointer($0)]! },
                enumeration: { enumsByAddress[UnsafeRawPointer($0)]! },
                textFields: textFields[message.fullName] ?? []
            )
        }
        var servicesByName: [String: ServiceDescriptor] = [:]
        var methodsByPath: [String: ServiceDescriptor.Method] = [:]
        for index in 0..<hp_registry_service_count() {
            let service = ServiceDescriptor(hp_registry_service_at(index)!) { messagesByAddress[UnsafeRawPointer($0)]! }
            servicesByName[service.fullName] = service
            for method in service.methods { methodsByPath[method.path] = method }
        }
        self.messagesByAddress = messagesByAddress
        self.enumsByAddress = enumsByAddress
        self.messagesByName = Dictionary(uniqueKeysWithValues: messagesByAddress.values.map { ($0.fullName, $0) })
        self.servicesByName = servicesByName
        self.methodsByPath = methodsByPath
    }

    func message(for raw: UnsafePointer<ProtobufCMessageDescriptor>) -> MessageDescriptor {
        guard let message = messagesByAddress[UnsafeRawPointer(raw)] else {
            // Every descriptor protobuf-c can hand us is generated into the registry.
            preconditionFailure("message descriptor \(String(cString: raw.pointee.name)) missing from the registry")
        }
        return message
    }

    func message(named fullName: String) -> MessageDescriptor? { messagesByName[fullName] }
    func service(named fullName: String) -> ServiceDescriptor? { servicesByName[fullName] }
    func method(path: String) -> ServiceDescriptor.Method? { methodsByPath[path] }
    var allMessages: [MessageDescriptor] { Array(messagesByName.values) }
    var allServices: [ServiceDescriptor] { Array(servicesByName.values) }
}
