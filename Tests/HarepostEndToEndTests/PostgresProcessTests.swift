import Foundation
import HarepostContracts
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Stores, auth and dispatchers as real processes on one throwaway PostgreSQL.
@Suite("Processes on PostgreSQL", .timeLimit(.minutes(5)))
struct PostgresProcessTests {
    /// `harepost up --database`: one host on PostgreSQL, no SQLite file made.
    @Test func upOnPostgresDeliversAndKeepsNoSQLite() async throws {
        try await PostgresServer.with(.ownServer) { server in
            try await ScriptedTarget.withTarget { target in
                try await withRunDirectory { dir in
                    let up = try await RunningUp(
                        directory: dir,
                        caBundle: target.caPath,
                        extraArguments: ["--database", server.tcpURL()]
                    )
                    let sent = try await up.api(
                        "POST",
                        "/v1/send",
                        body: #"{"target": "\#(target.url("/ok/pg-up"))", "body": {"n": 1}, "sign": true}"#
                    )
                    #expect(sent.status == 202)
                    let queueID = try #require(sent.json["queue_id"]?.text)
                    let delivery = try await up.waitForDelivery(queueID) { $0["status"]?.text == "delivered" }
                    #expect(delivery["status"]?.text == "delivered")
                    #expect(try target.requests("/ok/pg-up").count == 1)

                    #expect(
                        try await server.psql("SELECT status FROM deliveries WHERE id = '\(queueID)'") == "delivered"
                    )
                    #expect(try await server.psql("SELECT count(*) FROM accounts") == "1")
                    let files = try FileManager.default.contentsOfDirectory(atPath: up.dataDirectory)
                    #expect(!files.contains { $0.contains("sqlite") }, "\(files)")
                    #expect(await up.stop() == 0)
                }
            }
        }
    }

    /// A single host moves from SQLite to PostgreSQL: the copy is refused
    /// while up runs, then copies everything, after which up on PostgreSQL
    /// answers every lookup as before, the same key works, new sends follow
    /// on, and a second copy into the now-full database is refused.
    @Test func aSQLiteDeploymentMovesToPostgres() async throws {
        try await PostgresServer.with(.ownServer) { server in
            try await ScriptedTarget.withTarget { target in
                try await withRunDirectory { dir in
                    let migrate = [
                        "migrate-sqlite-to-postgres", "--data-dir", "\(dir)/data", "--run-dir", "\(dir)/run",
                        "--database", server.url(), "--log-level", "warning",
                    ]
                    var before: [String: JSONValue] = [:]
                    let up = try await RunningUp(directory: dir, caBundle: target.caPath)
                    for index in 0..<5 {
                        let path = index == 4 ? "/status/500/pg-move" : "/ok/pg-move"
                        let sent = try await up.api(
                            "POST",
                            "/v1/send",
                            body: #"""
                                {"target": "\#(target.url(path))", "body": {"n": \#(index)}, "sign": true,
                                 "idempotency_key": "move-\#(index)", "delivery": {"max_attempts": 1}}
                                """#
                        )
                        let queueID = try #require(sent.json["queue_id"]?.text)
                        before[queueID] = try await up.waitForDelivery(queueID) {
                            ["delivered", "dead_letter"].contains($0["status"]?.text)
                        }
                    }
                    let listBefore = try await up.api("GET", "/v1/deliveries?limit=10").json
                    let attemptsBefore = try await up.api("GET", "/v1/delivery-attempts?limit=10").json

                    let refused = try await runChildProcess(harepostBinary, migrate)
                    #expect(refused.status != 0)
                    #expect(refused.errors.contains("stop it before copying"), "\(refused.errors)")
                    #expect(await up.stop() == 0)

                    let copied = try await runChildProcess(harepostBinary, migrate)
                    #expect(copied.status == 0, "\(copied.errors)")
                    #expect(copied.output.contains("deliveries: 5, attempts: 5"), "\(copied.output)")
                    #expect(copied.output.contains("accounts: 1, api_keys: 1, signing_secrets: 1"), "\(copied.output)")

                    let moved = try await RunningUp(
                        directory: dir,
                        caBundle: target.caPath,
                        extraArguments: ["--database", server.url()]
                    )
                    #expect(moved.apiKey == up.apiKey)
                    for (queueID, delivery) in before {
                        #expect(try await moved.api("GET", "/v1/deliveries/\(queueID)").json == delivery)
                    }
                    #expect(try await moved.api("GET", "/v1/deliveries?limit=10").json == listBefore)
                    #expect(try await moved.api("GET", "/v1/delivery-attempts?limit=10").json == attemptsBefore)
                    // An idempotency key from before the move still names its delivery.
                    let again = try await moved.api(
                        "POST",
                        "/v1/send",
                        body: #"{"target": "\#(target.url("/ok/pg-move"))", "idempotency_key": "move-0"}"#
                    )
                    #expect(again.json["queue_id"].flatMap { before[$0.text ?? ""] } != nil)
                    let fresh = try await moved.api(
                        "POST",
                        "/v1/send",
                        body: #"{"target": "\#(target.url("/ok/pg-move"))", "body": {"n": 5}}"#
                    )
                    let freshID = try #require(fresh.json["queue_id"]?.text)
                    let delivered = try await moved.waitForDelivery(freshID) { $0["status"]?.text == "delivered" }
                    #expect(delivered["status"]?.text == "delivered")
                    guard case .array(let newest)? = try await moved.api("GET", "/v1/deliveries?limit=1").json["data"]
                    else { throw UpTestError("no data") }
                    #expect(newest.first?["queue_id"]?.text == freshID)
                    #expect(await moved.stop() == 0)

                    let twice = try await runChildProcess(harepostBinary, migrate)
                    #expect(twice.status != 0)
                    #expect(twice.errors.contains("already holds rows"), "\(twice.errors)")
                }
            }
        }
    }

    /// kill -9 of the store, then an immediate PostgreSQL restart, under a
    /// send stream: every 202 is delivered, and while the database is down
    /// clients get 503 with Retry-After, never a 500 or a hang.
    @Test func aKilledStoreAndACrashedDatabaseLoseNothingAccepted() async throws {
        try await PostgresServer.with(.ownServer) { server in
            try await ScriptedTarget.withTarget { target in
                try await withRunDirectory { dir in
                    let up = try await RunningUp(
                        directory: dir,
                        caBundle: target.caPath,
                        extraArguments: ["--database", server.url()]
                    )
                    let sends = SendOutcomes()
                    let body =
                        #"{"target": "\#(target.url("/ok/pg-chaos"))", "body": {"n": 1}, "delivery": {"timeout_ms": 1000}}"#
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        // Stopped by a flag: cancelling URLSession's async
                        // data(for:) can deadlock the runtime on Linux.
                        group.addTask {
                            while await !sends.stopped {
                                let started = ContinuousClock.now
                                do {
                                    let answer = try await up.api("POST", "/v1/send", body: body)
                                    if answer.status == 202, let id = answer.json["queue_id"]?.text {
                                        await sends.accept(id)
                                    } else {
                                        await sends.refuse(answer.status, retryAfter: answer.retryAfter)
                                    }
                                } catch {
                                    await sends.fail("\(error) after \(ContinuousClock.now - started)")
                                }
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                        }
                        try await sends.waitForAccepted(5)
                        let victim = try #require(up.pid(of: "store"))
                        kill(victim, SIGKILL)
                        let deadline = ContinuousClock.now + .seconds(30)
                        while ContinuousClock.now < deadline, up.pid(of: "store").map({ $0 == victim }) ?? true {
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        try await sends.waitForAccepted(5)

                        try await server.stop("immediate")
                        try await sends.waitForRefused(3)
                        try await server.start()
                        try await sends.waitForAccepted(10)
                        await sends.stop()
                        try await group.waitForAll()
                    }

                    let failures = await sends.failures
                    #expect(failures.isEmpty, "\(failures)")
                    let refusals = await sends.refusals
                    #expect(refusals.allSatisfy { $0.status == 503 && $0.retryAfter != nil }, "\(refusals)")
                    let ids = await sends.accepted
                    for id in ids {
                        let delivery = try await up.waitForDelivery(id, timeout: .seconds(60)) {
                            $0["status"]?.text == "delivered"
                        }
                        #expect(delivery["status"]?.text == "delivered", "\(id)")
                    }
                    let seen = Set(
                        try target.requests("/ok/pg-chaos").compactMap { $0.header("X-Harepost-Delivery-Id") }
                    )
                    #expect(Set(ids).isSubset(of: seen))
                    #expect(await up.stop() == 0)
                }
            }
        }
    }

    /// Three dispatchers, each on its own store, all on one database: 10,000
    /// deliveries reach the target once each, and every dispatcher works.
    @Test(.timeLimit(.minutes(10))) func threeDispatchersOnThreeStoresDeliverEachDeliveryOnce() async throws {
        let count = 10_000
        try await PostgresServer.with(.ownServer) { server in
            try await ScriptedTarget.withTarget { target in
                try await withRunDirectory { dir in
                    let common = ["--run-dir", dir, "--log-level", "warning"]
                    var processes: [ComponentProcess] = []
                    var stores: [RPCClient] = []
                    for index in 0..<3 {
                        let socket = "\(dir)/store-\(index).sock"
                        processes.append(
                            try ComponentProcess(
                                [
                                    "store", "--socket", socket, "--database", server.url(),
                                    "--allow-private-targets", "--trust-all-domains",
                                ] + common,
                                socket: socket
                            )
                        )
                        processes.append(
                            try ComponentProcess(
                                [
                                    "dispatcher", "--socket", "\(dir)/dispatcher-\(index).sock",
                                    "--store-socket", socket, "--auth-socket", "\(dir)/auth.sock",
                                    "--worker-id", "dispatcher-\(index)", "--max-in-flight", "16",
                                    "--ca-bundle", target.caPath, "--allow-private-targets",
                                ] + common,
                                socket: "\(dir)/dispatcher-\(index).sock"
                            )
                        )
                        stores.append(quietClient(socket: socket))
                    }
                    defer { processes.forEach { $0.terminate() } }
                    let clients = stores
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for client in clients { group.addTask { try await client.run() } }
                        for client in clients { _ = try await waitUntilServing(client, timeout: .seconds(60)) }
                        try await Self.send(count, to: target.url("/ok/pg-scale"), through: clients)
                        group.cancelAll()
                    }

                    let deadline = ContinuousClock.now + .seconds(300)
                    var delivered = 0
                    while ContinuousClock.now < deadline {
                        delivered =
                            Int(
                                try await server.psql("SELECT count(*) FROM deliveries WHERE status = 'delivered'")
                            ) ?? 0
                        if delivered == count { break }
                        try await Task.sleep(for: .milliseconds(500))
                    }
                    #expect(delivered == count)
                    let ids = try target.requests("/ok/pg-scale").compactMap { $0.header("X-Harepost-Delivery-Id") }
                    #expect(ids.count == count, "the target got \(ids.count) requests for \(count) deliveries")
                    #expect(Set(ids).count == count)
                    #expect(try await server.psql("SELECT count(*) FROM attempts") == "\(count)")
                    #expect(
                        try await server.psql(
                            """
                            SELECT count(*) FROM (SELECT 1 FROM attempts GROUP BY delivery_seq, attempt_number
                            HAVING count(*) > 1) AS doubled
                            """
                        ) == "0"
                    )
                    let workers = try await server.psql(
                        "SELECT worker_id || '=' || count(*) FROM deliveries GROUP BY worker_id ORDER BY 1"
                    ).split(separator: "\n")
                    #expect(workers.count == 3, "\(workers)")
                    #expect(workers.allSatisfy { $0.hasPrefix("dispatcher-") }, "\(workers)")
                }
            }
        }
    }

    /// Stores `count` unsigned deliveries to `target`, spread over the stores.
    static func send(_ count: Int, to target: String, through stores: [RPCClient]) async throws {
        let request = try ProtoJSON.decode(
            Array(#"{"target": "\#(target)", "body": {"n": 1}}"#.utf8),
            as: StoreV1.SendRequest.descriptor
        )
        let options = RPCCallOptions(
            timeout: .seconds(60),
            metadata: [RPCMetadataKey.accountID: "acct_scale", RPCMetadataKey.environment: "live"]
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            let lanes = 48
            for lane in 0..<lanes {
                group.addTask {
                    for index in stride(from: lane, to: count, by: lanes) {
                        _ = try await stores[index % stores.count].call(
                            "harepost.store.v1.Store/Send",
                            request,
                            options: options
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// What a stream of sends got back.
actor SendOutcomes {
    private(set) var accepted: [String] = []
    private(set) var refusals: [(status: Int, retryAfter: String?)] = []
    private(set) var failures: [String] = []
    private(set) var stopped = false

    func accept(_ id: String) { accepted.append(id) }
    func refuse(_ status: Int, retryAfter: String?) { refusals.append((status, retryAfter)) }
    func fail(_ reason: String) { failures.append(reason) }
    func stop() { stopped = true }

    func waitForAccepted(_ more: Int, timeout: Duration = .seconds(60)) async throws {
        let target = accepted.count + more
        try await wait(timeout, "\(more) more accepted sends") { self.accepted.count >= target }
    }

    func waitForRefused(_ more: Int, timeout: Duration = .seconds(60)) async throws {
        let target = refusals.count + more
        try await wait(timeout, "\(more) more refused sends") { self.refusals.count >= target }
    }

    private func wait(_ timeout: Duration, _ what: String, until done: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !done() {
            guard ContinuousClock.now < deadline else {
                throw UpTestError("no \(what) within \(timeout); failures so far: \(failures)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
