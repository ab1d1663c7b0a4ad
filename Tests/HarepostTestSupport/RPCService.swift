import Foundation
public import HarepostRPC
import Logging
public import ServiceLifecycle

/// Serves `makeRouter(directory)` on a real Unix socket in a short temp dir
/// (socket paths are limited to 108 bytes), runs `body` with a client for it,
/// then stops both. Pass an existing `directory` to reuse it (e.g. to restart on the same
/// database); it is then left in place.
public func withRPCService<T: Sendable>(
    component: String,
    directory existing: String? = nil,
    router makeRouter: (String) throws -> RPCRouter,
    _ body: @Sendable (_ directory: String, _ client: RPCClient) async throws -> T
) async throws -> T {
    let directory = try existing ?? makeTemporaryDirectory("hp-\(component)")
    defer { if existing == nil { try? FileManager.default.removeItem(atPath: directory) } }
    var logger = Logger(label: "harepost.\(component).tests")
    logger.logLevel = .critical
    let socket = "\(directory)/\(component).sock"
    let server = RPCServer(
        configuration: .init(endpoint: .unixSocket(path: socket), component: component),
        router: try makeRouter(directory),
        logger: logger
    )
    let client = RPCClient(configuration: .init(endpoint: .unixSocket(path: socket)), logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await server.run()
            return nil
        }
        await server.waitUntilListening()
        group.addTask {
            try await client.run()
            return nil
        }
        let result = try await body(directory, client)
        group.cancelAll()
        while let _ = try await group.next() {}
        return result
    }
}

/// ``withRPCService(component:directory:router:_:)`` for a service with work
/// beside its server (a PostgreSQL pool, a listener): runs `background`,
/// serves `router` once `ready` returns, runs `body`, then stops them all.
public func withRPCService<T: Sendable>(
    component: String,
    background: [any Service],
    ready: () async throws -> Void,
    router: RPCRouter,
    _ body: @Sendable (_ directory: String, _ client: RPCClient) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        for service in background {
            group.addTask {
                try await service.run()
                return nil
            }
        }
        try await ready()
        let result = try await withRPCService(component: component, router: { _ in router }, body)
        group.cancelAll()
        while let _ = try await group.next() {}
        return result
    }
}
