import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@Suite("RPC over Unix sockets", .timeLimit(.minutes(1)))
struct RPCServerClientTests {
    @Test func thousandConcurrentCallsOnOneConnectionEachGetTheirOwnAnswer() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let server = makeServer(path, router: try testRouter())
            let client = makeClient(path)
            try await withRunning(server, client) { () async throws in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<1000 {
                        group.addTask {
                            let response = try await client.call(
                                "harepost.auth.v1.Auth/Authenticate",
                                try authenticateRequest("key-\(index)"),
                                options: .init(metadata: ["x-request-id": "req-\(index)"])
                            )
                            return response.string("account_id") == "key-\(index)"
                                && response.string("key_id") == "req-\(index)"
                        }
                    }
                    var correct = 0
                    for try await ok in group where ok { correct += 1 }
                    #expect(correct == 1000)
                }
            }
        }
    }

    /// The slow call's handler waits at a gate the test opens only after the
    /// 200 immediate calls on the same connection, sent while it waits, have
    /// been answered: if they waited behind it, the test would hang (and fail
    /// at the suite's time limit) rather than depend on timing. So no call has
    /// a deadline: with the default 10 s one, a loaded machine could end the
    /// slow call before the gate opens.
    @Test func immediateHandlersAnswerWhileATaskCallWaitsOnTheSameConnection() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            let gate = TestGate()
            try await withRunning(makeServer(path, router: try testRouter(secretsGate: gate)), client) {
                () async throws in
                let slow = Task {
                    try await client.call(
                        "harepost.auth.v1.Auth/GetSigningSecret",
                        try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest"),
                        options: .init(timeout: nil)
                    )
                }
                await gate.waitForArrival()
                let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            let response = try await client.call(
                                "harepost.auth.v1.Auth/ListApiKeys",
                                try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                                options: .init(timeout: nil, metadata: [RPCMetadataKey.requestID: "req-\(index)"])
                            )
                            return response.values("data").first?.messageValue?.string("id") == "req-\(index)"
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(answered == 200)
                for (fail, expected) in [
                    ("not-found", RPCError(.notFound, "no such account")),
                    ("unexpected", RPCError(.internal, "internal error")),
                ] {
                    await #expect(throws: expected) {
                        try await client.call(
                            "harepost.auth.v1.Auth/ListApiKeys",
                            try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                            options: .init(timeout: nil, metadata: ["fail": fail])
                        )
                    }
                }
                gate.open()
                #expect(try await slow.value.string("signing_secret") == "whsec_test")
            }
        }
    }

    /// Future handlers start on the event loop and answer when their future
    /// completes: in whatever order that happens, each with its own answer
    /// or status.
    @Test func futureHandlersAnswerInTheOrderTheirFuturesComplete() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            try await withRunning(makeServer(path, router: try testRouter()), client) { () async throws in
                let finished = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                    for index in 0..<300 {
                        group.addTask {
                            let response = try await client.call(
                                "harepost.auth.v1.Auth/RotateSigningSecret",
                                try ProtoMessage("harepost.auth.v1.RotateSigningSecretRequest"),
                                options: .init(metadata: [
                                    RPCMetadataKey.requestID: "req-\(index)", "delay-ms": "\((300 - index) % 7 * 20)",
                                ])
                            )
                            return (index, response.string("signing_secret") == "req-\(index)")
                        }
                    }
                    var finished: [Int] = []
                    for try await (index, ok) in group {
                        #expect(ok, "call \(index) got another call's answer")
                        finished.append(index)
                    }
                    return finished
                }
                #expect(finished.count == 300)
                #expect(finished != finished.sorted(), "the answers came in call order, not completion order")
                for (fail, expected) in [
                    ("not-found", RPCError(.notFound, "no such account")),
                    ("unexpected", RPCError(.internal, "internal error")),
                ] {
                    await #expect(throws: expected) {
                        try await client.call(
                            "harepost.auth.v1.Auth/RotateSigningSecret",
                            try ProtoMessage("harepost.auth.v1.RotateSigningSecretRequest"),
                            options: .init(metadata: ["fail": fail, "delay-ms": "10"])
                        )
                    }
                }
            }
        }
    }

    @Test func aClientGroupAnswersEveryCallOnItsConnectionsAndChecksThemAll() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 3)
            let group = RPCClientGroup(
                configuration: .init(endpoint: .unixSocket(path: path)),
                logger: testLogger,
                eventLoopGroup: loops
            )
            await #expect(throws: RPCError.self) { try await group.checkHealth(timeout: .seconds(1)) }
            let server = makeServer(path, router: try testRouter())
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await server.run() }
                tasks.addTask { try await group.run() }
                await server.waitUntilListening()
                // Health is asked on every connection, so it answers only once all three are up.
                let health = try await group.checkHealth(timeout: .seconds(5))
                #expect(health.status == .serving)
                let correct = try await withThrowingTaskGroup(of: Bool.self) { calls in
                    for index in 0..<300 {
                        calls.addTask {
                            let response = try await group.call(
                                "harepost.auth.v1.Auth/Authenticate",
                                try authenticateRequest("key-\(index)")
                            )
                            return response.string("account_id") == "key-\(index)"
                        }
                    }
                    return try await calls.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(correct == 300)
                tasks.cancelAll()
            }
            try await loops.shutdownGracefully()
        }
    }

    /// The callback form of a call (for callers with no task, the gateway's
    /// event-loop path): answers, status codes and deadlines as the async
    /// form gives them, a reply delivered on the event loop of the group's
    /// client the call was made from, and UNAVAILABLE from a stopped client.
    @Test func callbackCallsAnswerOnTheirLoopWithTheAsyncCallsOutcomes() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let group = RPCClientGroup(
                configuration: .init(endpoint: .unixSocket(path: path)),
                logger: testLogger,
                eventLoopGroup: loops
            )
            let server = makeServer(path, router: try testRouter(delay: .seconds(5)))
            /// Makes the call from `loop` and waits for its outcome, and whether it came on `loop`.
            func call(
                _ method: String,
                _ request: ProtoMessage,
                timeout: Duration? = nil,
                from loop: any EventLoop
            ) async -> (Result<ProtoMessage, RPCError>, onLoop: Bool) {
                await withCheckedContinuation { continuation in
                    loop.execute {
                        group.call(method, request, options: .init(timeout: timeout)) { result in
                            continuation.resume(returning: (result, loop.inEventLoop))
                        }
                    }
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await server.run() }
                tasks.addTask { try await group.run() }
                await server.waitUntilListening()
                _ = try await group.checkHealth(timeout: .seconds(5))
                for (index, loop) in loops.makeIterator().enumerated() {
                    let (answer, onLoop) = await call(
                        "harepost.auth.v1.Auth/Authenticate",
                        try authenticateRequest("key-\(index)"),
                        from: loop
                    )
                    #expect(try answer.get().string("account_id") == "key-\(index)")
                    #expect(onLoop)
                }
                var revoke = try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest")
                try revoke.set("id", .string("missing"))
                let (notFound, _) = await call("harepost.auth.v1.Auth/RevokeApiKey", revoke, from: loops.next())
                #expect(throws: RPCError(.notFound, "no API key missing")) { try notFound.get() }
                let (unknown, _) = await call(
                    "harepost.auth.v1.Auth/Nope",
                    try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest"),
                    from: loops.next()
                )
                #expect(throws: RPCError.self) { try unknown.get() }
                let started = ContinuousClock.now
                let (late, _) = await call(
                    "harepost.auth.v1.Auth/GetSigningSecret",
                    try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest"),
                    timeout: .milliseconds(200),
                    from: loops.next()
                )
                #expect(throws: RPCError(.deadlineExceeded, "deadline exceeded")) { try late.get() }
                #expect(ContinuousClock.now - started < .seconds(3))
                tasks.cancelAll()
            }
            let (stopped, _) = await call(
                "harepost.auth.v1.Auth/Authenticate",
                try authenticateRequest("after"),
                from: loops.next()
            )
            #expect(throws: RPCError.self) { try stopped.get() }
            try await loops.shutdownGracefully()
        }
    }

    @Test func socketIsPrivateAndHealthAnswers() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let server = makeServer(path, router: try testRouter())
            let client = makeClient(path)
            try await withRunning(server, client) { () async throws in
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? Int) == 0o600)
                let health = try await client.checkHealth(timeout: .seconds(15))
                #expect(health.status == .serving)
                #expect(health.component == "test")
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func statusCodesReachTheCallerWithoutInternalDetail() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            try await withRunning(makeServer(path, router: try testRouter()), client) { () async throws in
                var revoke = try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest")
                try revoke.set("id", .string("missing"))
                await #expect(throws: RPCError(.notFound, "no API key missing")) {
                    try await client.call("harepost.auth.v1.Auth/RevokeApiKey", revoke)
                }
                try revoke.set("id", .string("boom"))
                await #expect(throws: RPCError(.internal, "internal error")) {
                    try await client.call("harepost.auth.v1.Auth/RevokeApiKey", revoke)
                }
                await #expect(throws: RPCError(.unimplemented, "unknown method harepost.auth.v1.Auth/CreateAccount")) {
                    try await client.call(
                        "harepost.auth.v1.Auth/CreateAccount",
                        try ProtoMessage("harepost.auth.v1.CreateAccountRequest")
                    )
                }
                await #expect(throws: RPCError.self) {
                    try await client.call(
                        "harepost.auth.v1.Auth/Authenticate",
                        try ProtoMessage("harepost.auth.v1.RevokeApiKeyRequest")
                    )
                }
            }
        }
    }

    @Test func aMissedDeadlineIsDeadlineExceeded() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            try await withRunning(makeServer(path, router: try testRouter(delay: .seconds(5))), client) {
                () async throws in
                let started = ContinuousClock.now
                await #expect(throws: RPCError(.deadlineExceeded, "deadline exceeded")) {
                    try await client.call(
                        "harepost.auth.v1.Auth/GetSigningSecret",
                        try ProtoMessage("harepost.auth.v1.GetSigningSecretRequest"),
                        options: .init(timeout: .milliseconds(200))
                    )
                }
                #expect(ContinuousClock.now - started < .seconds(3))
                // The connection is still good for the next call.
                let response = try await client.call(
                    "harepost.auth.v1.Auth/Authenticate",
                    try authenticateRequest("after")
                )
                #expect(response.string("account_id") == "after")
            }
        }
    }

    /// A future call not completed by its deadline is answered
    /// DEADLINE_EXCEEDED at the deadline; its late completion answers
    /// nothing more.
    @Test func aFutureCallPastItsDeadlineIsDeadlineExceeded() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            let gate = TestGate()
            try await withRunning(makeServer(path, router: try testRouter(rotationGate: gate)), client) {
                () async throws in
                // Answered at the deadline while the handler is still held.
                await #expect(throws: RPCError(.deadlineExceeded, "deadline exceeded")) {
                    try await client.call(
                        "harepost.auth.v1.Auth/RotateSigningSecret",
                        try ProtoMessage("harepost.auth.v1.RotateSigningSecretRequest"),
                        options: .init(timeout: .milliseconds(200))
                    )
                }
                // Let the held handler (if it started before the deadline)
                // complete late: its answer is dropped; the connection still serves.
                gate.open()
                let response = try await client.call(
                    "harepost.auth.v1.Auth/ListApiKeys",
                    try ProtoMessage("harepost.auth.v1.ListApiKeysRequest"),
                    options: .init(metadata: [RPCMetadataKey.requestID: "after"])
                )
                #expect(response.values("data").first?.messageValue?.string("id") == "after")
            }
        }
    }

    @Test func failsFastWhileDownAndRecoversAfterARestartWithoutRestartingTheClient() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            try await withRunning(nil, client) { () async throws in
                // First server lifetime.
                try await withRunning(makeServer(path, router: try testRouter()), nil) { () async throws in
                    let answer = try await client.call(
                        "harepost.auth.v1.Auth/Authenticate",
                        try authenticateRequest("one")
                    )
                    #expect(answer.string("account_id") == "one")
                }
                // Down: UNAVAILABLE, quickly, well before the 10 s deadline.
                let started = ContinuousClock.now
                let down = try authenticateRequest("down")
                let error = await rpcError { () async throws(RPCError) in
                    try await client.call("harepost.auth.v1.Auth/Authenticate", down)
                }
                #expect(error?.code == .unavailable)
                #expect(ContinuousClock.now - started < .seconds(5))
                // Second server lifetime on the same path: the same client works at once.
                try await withRunning(makeServer(path, router: try testRouter()), nil) { () async throws in
                    let answer = try await client.call(
                        "harepost.auth.v1.Auth/Authenticate",
                        try authenticateRequest("two")
                    )
                    #expect(answer.string("account_id") == "two")
                }
            }
        }
    }

    @Test func garbageAndOversizedFramesCloseOnlyTheirConnection() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let client = makeClient(path)
            try await withRunning(makeServer(path, router: try testRouter()), client) { () async throws in
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", try authenticateRequest("before"))
                        .string("account_id") == "before"
                )
                let garbage: [UInt8] = [0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]
                let oversized: [UInt8] = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3]
                for bytes in [garbage, oversized] {
                    #expect(try await rawConnectionIsClosedAfterSending(bytes, to: path))
                }
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", try authenticateRequest("after"))
                        .string("account_id") == "after"
                )
            }
        }
    }

    /// Both kinds of calls that wait: a task call and a future call (answered
    /// from the event loop, counted on its connection all the same).
    @Test(arguments: [
        ("harepost.auth.v1.Auth/GetSigningSecret", "harepost.auth.v1.GetSigningSecretRequest"),
        ("harepost.auth.v1.Auth/RotateSigningSecret", "harepost.auth.v1.RotateSigningSecretRequest"),
    ])
    func gracefulShutdownFinishesInFlightCallsAndRefusesNewOnes(method: String, requestType: String) async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            let gate = TestGate()
            let server = makeServer(path, router: try testRouter(secretsGate: gate, rotationGate: gate))
            let client = makeClient(path)
            let group = ServiceGroup(configuration: .init(services: [server], logger: testLogger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                tasks.addTask { try await client.run() }
                await server.waitUntilListening()
                let inFlight = Task {
                    try await client.call(
                        method,
                        try ProtoMessage(requestType),
                        options: .init(metadata: [RPCMetadataKey.requestID: "whsec_test"])
                    )
                }
                // The server is working on it, held at the gate.
                await gate.waitForArrival()
                await group.triggerGracefulShutdown()
                // Draining: new calls are refused while the held one waits.
                while true {
                    do throws(RPCError) {
                        _ = try await client.call(
                            "harepost.auth.v1.Auth/Authenticate",
                            try! authenticateRequest("late")
                        )
                        try? await Task.sleep(for: .milliseconds(10))
                    } catch {
                        #expect(error.code == .unavailable)
                        break
                    }
                }
                gate.open()
                let response = try await inFlight.value
                #expect(response.string("signing_secret") == "whsec_test")
                tasks.cancelAll()
            }
        }
    }

    @Test func replacesAStaleSocketButNotALiveServer() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            // A socket file whose process is gone.
            _ = try await runTool([
                "python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path,
            ])
            #expect(FileManager.default.fileExists(atPath: path))
            let client = makeClient(path)
            try await withRunning(makeServer(path, router: try testRouter()), client) { () async throws in
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", try authenticateRequest("x")).string(
                        "account_id"
                    ) == "x"
                )
                await #expect(throws: RPCServer.StartupError.self) {
                    try await makeServer(path, router: try testRouter()).run()
                }
                // The live server's socket survived the refused start.
                #expect(
                    try await client.call("harepost.auth.v1.Auth/Authenticate", try authenticateRequest("y")).string(
                        "account_id"
                    ) == "y"
                )
            }
        }
    }
    /// Cancelling the server (an immediate stop) while connections are
    /// accepted but not yet served must close them, not stop the process: an
    /// NIOAsyncChannel dropped without its writer finished is a precondition
    /// failure in NIO (apple/swift-nio#2813).
    @Test func cancellingTheServerWhileConnectionsArriveClosesThemWithoutCrashing() async throws {
        try await withTemporaryDirectory { dir in
            let path = "\(dir)/auth.sock"
            for _ in 0..<10 {
                let server = makeServer(path, router: try testRouter())
                let running = Task { try await server.run() }
                await server.waitUntilListening()
                let connecting = (0..<64).map { _ in
                    ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: path)
                }
                running.cancel()
                try await running.value
                // Every connection the server accepted is closed by it.
                for connection in connecting {
                    guard let channel = try? await connection.get() else { continue }
                    #expect(try await isClosedWithin(.seconds(15), channel))
                }
            }
        }
    }
}

/// Connects without the RPC client, sends raw bytes and reports whether the
/// server closed the connection.
func rawConnectionIsClosedAfterSending(_ bytes: [UInt8], to path: String) async throws -> Bool {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
        unixDomainSocketPath: path
    ).get()
    try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    return try await isClosedWithin(.seconds(15), channel)
}

/// Whether `channel` is closed (by its peer) within `limit`; it is closed on return.
func isClosedWithin(_ limit: Duration, _ channel: any Channel) async throws -> Bool {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await channel.closeFuture.get()
            return true
        }
        group.addTask {
            try await Task.sleep(for: limit)
            return false
        }
        let closed = try await group.next()!
        group.cancelAll()
        channel.close(promise: nil)
        return closed
    }
}
