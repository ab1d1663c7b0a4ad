import Foundation
import HarepostProto
import HarepostRPC
import Logging
import NIOCore
import NIOPosix

let testLogger: Logger = {
    var logger = Logger(label: "harepost.rpc.tests")
    logger.logLevel = .critical
    return logger
}()

/// A gate a handler stops at: it says it has arrived, then waits until the
/// test opens it.
struct TestGate: Sendable {
    private let arrivals: AsyncStream<Void>
    private let arrive: AsyncStream<Void>.Continuation
    private let openings: AsyncStream<Void>
    private let opener: AsyncStream<Void>.Continuation

    init() {
        (arrivals, arrive) = AsyncStream.makeStream(of: Void.self)
        (openings, opener) = AsyncStream.makeStream(of: Void.self)
    }

    /// For the handler (one at a time).
    func pass() async {
        arrive.yield()
        var opened = openings.makeAsyncIterator()
        _ = await opened.next()
    }

    /// For the test: returns once a handler waits at the gate.
    func waitForArrival() async {
        var arrived = arrivals.makeAsyncIterator()
        _ = await arrived.next()
    }

    func open() { opener.yield() }
}

/// A router answering Authenticate by echoing the key as the account id, and
/// GetSigningSecret after `delay` (for deadline and drain tests), then
/// after passing `secretsGate` when one is given. ListApiKeys
/// is an immediate handler: it answers the call's `x-request-id` as its one
/// key's id, or fails as the metadata `fail` says. RotateSigningSecret is a
/// future handler: after passing `rotationGate` when one is given, else
/// after the metadata's `delay-ms` (a timer on the event loop, no task), it
/// answers the `x-request-id` as the secret, or fails as `fail` says.
func testRouter(delay: Duration = .zero, secretsGate: TestGate? = nil, rotationGate: TestGate? = nil) throws
    -> RPCRouter
{
    var router = RPCRouter()
    try router.register("harepost.auth.v1.Auth/Authenticate") { request, context in
        var response = try ProtoMessage("harepost.auth.v1.AuthenticateResponse")
        try response.set("account_id", .string(request.string("api_key") ?? ""))
        try response.set("key_id", .string(context.metadata["x-request-id"] ?? ""))
        return response
    }
    try router.register("harepost.auth.v1.Auth/GetSigningSecret") { _, _ in
        try await Task.sleep(for: delay)
        await secretsGate?.pass()
        var response = try ProtoMessage("harepost.auth.v1.GetSigningSecretResponse")
        try response.set("signing_secret", .string("whsec_test"))
        return response
    }
    try router.register("harepost.auth.v1.Auth/RevokeApiKey") { request, _ in
        switch request.string("id") {
        case "missing": throw RPCError.notFound("no API key missing")
        default: throw CocoaError(.fileReadCorruptFile)  // an unexpected internal error
        }
    }
    try router.register(
        "harepost.auth.v1.Auth/ListApiKeys",
        immediate: { _, context in
            switch context.metadata["fail"] {
            case "not-found": throw RPCError.notFound("no such account")
            case "unexpected": throw CocoaError(.fileReadCorruptFile)
            default: break
            }
            let key = try ProtoMessage("harepost.auth.v1.ApiKey", ["id": .string(context.requestID ?? "")])
            var response = try ProtoMessage("harepost.auth.v1.ListApiKeysResponse")
            try response.set("data", values: [.message(key)])
            return response
        }
    )
    try router.register(
        "harepost.auth.v1.Auth/RotateSigningSecret",
        future: { _, context, eventLoop in
            @Sendable func answer() throws -> ProtoMessage {
                switch context.metadata["fail"] {
                case "not-found": throw RPCError.notFound("no such account")
                case "unexpected": throw CocoaError(.fileReadCorruptFile)
                default: break
                }
                return try ProtoMessage(
                    "harepost.auth.v1.RotateSigningSecretResponse",
                    ["signing_secret": .string(context.requestID ?? "")]
                )
            }
            // Held at the gate, when there is one, for tests that order
            // events around a call in progress.
            if let rotationGate {
                return eventLoop.makeFutureWithTask {
                    await rotationGate.pass()
                    return try answer()
                }
            }
            let delay = Int64(context.metadata["delay-ms"] ?? "") ?? 0
            return eventLoop.scheduleTask(in: .milliseconds(delay), answer).futureResult
        }
    )
    return router
}

func authenticateRequest(_ key: String) throws -> ProtoMessage {
    var request = try ProtoMessage("harepost.auth.v1.AuthenticateRequest")
    try request.set("api_key", .string(key))
    return request
}

func makeServer(_ path: String, router: RPCRouter) -> RPCServer {
    RPCServer(
        configuration: .init(endpoint: .unixSocket(path: path), component: "test"),
        router: router,
        logger: testLogger
    )
}

func makeClient(_ path: String) -> RPCClient {
    RPCClient(configuration: .init(endpoint: .unixSocket(path: path)), logger: testLogger)
}

/// Runs `server` and `client` around `body`, then cancels both.
func withRunning<T: Sendable>(_ server: RPCServer?, _ client: RPCClient?, _ body: @Sendable () async throws -> T)
    async throws -> T
{
    try await withThrowingTaskGroup(of: T?.self) { group in
        if let server {
            group.addTask {
                try await server.run()
                return nil
            }
            await server.waitUntilListening()
        }
        if let client {
            group.addTask {
                try await client.run()
                return nil
            }
        }
        let result = try await body()
        group.cancelAll()
        while let _ = try await group.next() {}
        return result
    }
}

/// The RPCError a call ended with, or nil if it succeeded.
func rpcError(_ body: () async throws(RPCError) -> ProtoMessage) async -> RPCError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}
