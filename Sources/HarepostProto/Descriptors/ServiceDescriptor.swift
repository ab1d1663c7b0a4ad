internal import CHarepostProto

/// A service compiled from `proto/`, with its methods' request and response types.
public final class ServiceDescriptor: Sendable {
    public struct Method: Sendable {
        /// The short method name, e.g. `GetDelivery`.
        public let name: String
        /// The RPC path, e.g. `harepost.store.v1.Store/GetDelivery`.
        public let path: String
        public let input: MessageDescriptor
        public let output: MessageDescriptor
    }

    /// The full service name, e.g. `harepost.store.v1.Store`.
    public let fullName: String
    public let methods: [Method]

    init(
        _ raw: UnsafePointer<ProtobufCServiceDescriptor>,
        message: (UnsafePointer<ProtobufCMessageDescriptor>) -> MessageDescriptor
    ) {
        let fullName = String(cString: raw.pointee.name)
        self.fullName = fullName
        self.methods = (0..<Int(raw.pointee.n_methods)).map { index in
            let method = raw.pointee.methods[index]
            let name = String(cString: method.name)
            return Method(
                name: name,
                path: "\(fullName)/\(name)",
                input: message(method.input),
                output: message(method.output)
            )
        }
    }

    public func method(named name: String) -> Method? {
        methods.first { $0.name == name }
    }

    public static func named(_ fullName: String) -> ServiceDescriptor? {
        ProtoRegistry.shared.service(named: fullName)
    }

    /// Looks a method up by its RPC path (`harepost.store.v1.Store/GetDelivery`).
    public static func method(path: String) -> Method? {
        ProtoRegistry.shared.method(path: path)
    }

    /// Every service compiled from `proto/`.
    public static var all: [ServiceDescriptor] {
        ProtoRegistry.shared.allServices.sorted { $0.fullName < $1.fullName }
    }
}
