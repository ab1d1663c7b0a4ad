import Foundation
public import HarepostJSON
public import HarepostProto
public import HarepostRPC

/// The gateway's routes, read from `gateway-config/routes.json` and checked
/// against the compiled protobuf-c descriptors: every RPC method, bound field
/// and response field must exist, or the gateway refuses to start.
public struct RouteMap: Sendable {
    /// A class: every request passes its route along, and a struct of these
    /// fields took a dozen retains per copy.
    public final class Route: Sendable {
        public let name: String
        public let httpMethod: String
        public let template: PathTemplate
        public let method: ServiceDescriptor.Method
        /// The backend (`auth`, `store`, …) that serves `method`.
        public let backend: String
        /// Whether the route needs an API key.
        public let requiresKey: Bool
        /// Whether the JSON body becomes the request message.
        public let bindsBody: Bool
        /// Query parameter → request field.
        public let query: [String: FieldDescriptor]
        public let successStatus: Int
        /// The response field that is the body; the whole response when nil.
        public let responseField: FieldDescriptor?
        /// Extra members of the error body, by RPC status.
        public let errorFields: [RPCCode: [(key: String, value: JSONValue)]]

        init(
            name: String,
            httpMethod: String,
            template: PathTemplate,
            method: ServiceDescriptor.Method,
            backend: String,
            requiresKey: Bool,
            bindsBody: Bool,
            query: [String: FieldDescriptor],
            successStatus: Int,
            responseField: FieldDescriptor?,
            errorFields: [RPCCode: [(key: String, value: JSONValue)]]
        ) {
            self.name = name
            self.httpMethod = httpMethod
            self.template = template
            self.method = method
            self.backend = backend
            self.requiresKey = requiresKey
            self.bindsBody = bindsBody
            self.query = query
            self.successStatus = successStatus
            self.responseField = responseField
            self.errorFields = errorFields
        }
    }

    public enum Match {
        case route(Route, pathValues: [(field: FieldDescriptor, text: String)])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    public let routes: [Route]

    /// Reads and validates the map at `path`. `backends` names the backends the
    /// gateway has; the service `harepost.<backend>.v1.<Service>` is served by
    /// `<backend>`.
    public static func load(path: String, backends: Set<String>) throws(RouteMapError) -> RouteMap {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RouteMapError("cannot read the route map \(path)")
        }
        return try parse(Array(data), backends: backends, source: path)
    }

    /// The route map built into this binary (gateway-config/routes.json at
    /// build time), so the gateway starts from any directory.
    public static func builtIn(backends: Set<String>) throws(RouteMapError) -> RouteMap {
        try parse(Array(defaultJSON.utf8), backends: backends, source: "the built-in route map")
    }

    public static func parse(_ bytes: [UInt8], backends: Set<String>, source: String) throws(RouteMapError)
        -> RouteMap
    {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw RouteMapError("\(source): \(error)")
        }
        guard case .object(let top) = document,
            case .array(let entries)? = top.first(where: { $0.key == "routes" })?.value
        else { throw RouteMapError("\(source): expected {\"routes\": [ … ]}") }
        var routes: [Route] = []
        for (index, entry) in entries.enumerated() {
            let route = try Route(entry, backends: backends, where: "\(source): routes[\(index)]")
            if routes.contains(where: { $0.httpMethod == route.httpMethod && $0.template == route.template }) {
                throw RouteMapError(
                    "\(source): routes[\(index)] (\(route.name)) repeats \(route.httpMethod) \(route.template)"
                )
            }
            routes.append(route)
        }
        return RouteMap(routes: routes)
    }

    /// The route for `method` and `path`; a 405 when only the method is wrong.
    public func match(method: String, path: String) -> Match {
        let segments = PathTemplate.segments(of: path)
        var allowed: [String] = []
        for route in routes {
            guard let values = route.template.match(segments) else { continue }
            if route.httpMethod == method { return .route(route, pathValues: values) }
            allowed.append(route.httpMethod)
            // HEAD is served wherever GET is (the HTTP layer answers it as GET).
            if route.httpMethod == "GET" { allowed.append("HEAD") }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }
}

public struct RouteMapError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// `/v1/deliveries/{queue_id}`: literal segments and `{field}` variables.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case variable(FieldDescriptor)

        static func == (lhs: Segment, rhs: Segment) -> Bool {
            switch (lhs, rhs) {
            case (.literal(let a), .literal(let b)): a == b
            case (.variable, .variable): true
            default: false
            }
        }
    }

    let segments: [Segment]
    public let description: String

    init(_ text: String, input: MessageDescriptor, where location: String) throws(RouteMapError) {
        guard text.hasPrefix("/") else { throw RouteMapError("\(location): path \"\(text)\" must start with /") }
        var segments: [Segment] = []
        for part in Self.segments(of: text) {
            if part.hasPrefix("{") && part.hasSuffix("}") {
                let name = String(part.dropFirst().dropLast())
                guard let field = input.field(named: name), !field.isRepeated, field.messageType == nil else {
                    throw RouteMapError(
                        "\(location): path variable {\(name)} is not a scalar field of \(input.fullName)"
                    )
                }
                segments.append(.variable(field))
            } else {
                segments.append(.literal(part))
            }
        }
        self.segments = segments
        self.description = text
    }

    static func segments(of path: String) -> [String] {
        // Split as bytes: splitting a String by Character walks grapheme clusters.
        path.utf8.split(separator: UInt8(ascii: "/")).map { String(Substring($0)) }
    }

    func match(_ parts: [String]) -> [(field: FieldDescriptor, text: String)]? {
        guard parts.count == segments.count else { return nil }
        var values: [(field: FieldDescriptor, text: String)] = []
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let literal): guard literal == part else { return nil }
            case .variable(let field):
                let text = part.utf8.contains(UInt8(ascii: "%")) ? part.removingPercentEncoding ?? part : part
                values.append((field, text))
            }
        }
        return values
    }
}

extension RouteMap.Route {
    convenience init(_ entry: JSONValue, backends: Set<String>, where location: String) throws(RouteMapError) {
        guard case .object(let members) = entry else { throw RouteMapError("\(location): expected an object") }
        let known: Set<String> = [
            "name", "method", "path", "rpc", "auth", "body", "query", "status", "response", "error_fields",
        ]
        if let unknown = members.first(where: { !known.contains($0.key) }) {
            throw RouteMapError("\(location): unknown key \"\(unknown.key)\"")
        }
        func string(_ key: String) -> String? {
            if case .string(let value)? = members.first(where: { $0.key == key })?.value { return value }
            return nil
        }
        func value(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }
        let name = string("name") ?? ""
        let location = name.isEmpty ? location : "\(location) (\(name))"
        guard let httpMethod = string("method"), ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(httpMethod) else {
            throw RouteMapError("\(location): method must be GET, POST, PUT, PATCH or DELETE")
        }
        guard let rpc = string("rpc"), let method = ServiceDescriptor.method(path: rpc) else {
            throw RouteMapError("\(location): rpc \"\(string("rpc") ?? "")\" is not a method in the compiled protos")
        }
        let service = String(rpc.split(separator: "/").first ?? "")
        let package = service.split(separator: ".")
        guard package.count == 4, package[0] == "harepost", backends.contains(String(package[1])) else {
            throw RouteMapError("\(location): no backend of this gateway serves \(service)")
        }
        let backend = String(package[1])
        guard let pathText = string("path") else { throw RouteMapError("\(location): path is required") }
        let template = try PathTemplate(pathText, input: method.input, where: location)
        let auth = string("auth") ?? "api_key"
        guard auth == "api_key" || auth == "none" else {
            throw RouteMapError("\(location): auth must be api_key or none")
        }
        var bindsBody = false
        if let body = value("body") {
            guard body == .string("*") else { throw RouteMapError("\(location): body must be \"*\" when given") }
            bindsBody = true
        }
        var query: [String: FieldDescriptor] = [:]
        if let binding = value("query") {
            guard case .object(let pairs) = binding else {
                throw RouteMapError("\(location): query must map parameter names to fields")
            }
            for (parameter, target) in pairs {
                guard case .string(let fieldName) = target, let field = method.input.field(named: fieldName),
                    !field.isRepeated, field.messageType == nil
                else {
                    throw RouteMapError(
                        "\(location): query parameter \(parameter) must name a scalar field of \(method.input.fullName)"
                    )
                }
                query[parameter] = field
            }
        }
        var successStatus = 200
        if let status = value("status") {
            guard case .integer(let code) = status, [200, 201, 202].contains(code) else {
                throw RouteMapError("\(location): status must be 200, 201 or 202")
            }
            successStatus = Int(code)
        }
        var responseField: FieldDescriptor?
        if let fieldName = string("response") {
            guard let field = method.output.field(named: fieldName), field.messageType != nil, !field.isRepeated else {
                throw RouteMapError(
                    "\(location): response \"\(fieldName)\" is not a message field of \(method.output.fullName)"
                )
            }
            responseField = field
        }
        var errorFields: [RPCCode: [(key: String, value: JSONValue)]] = [:]
        if let extra = value("error_fields") {
            guard case .object(let byCode) = extra else {
                throw RouteMapError("\(location): error_fields must be an object")
            }
            for (codeName, fields) in byCode {
                guard let code = RPCCode.allCases.first(where: { $0.description == codeName }),
                    case .object(let members) = fields
                else {
                    throw RouteMapError(
                        "\(location): error_fields.\(codeName): expected a status name such as ABORTED and an object"
                    )
                }
                errorFields[code] = members
            }
        }
        self.init(
            name: name.isEmpty ? "\(httpMethod) \(pathText)" : name,
            httpMethod: httpMethod,
            template: template,
            method: method,
            backend: backend,
            requiresKey: auth == "api_key",
            bindsBody: bindsBody,
            query: query,
            successStatus: successStatus,
            responseField: responseField,
            errorFields: errorFields
        )
    }
}
