import ArgumentParser
import Foundation
import HarepostContracts
import HarepostProto
import HarepostRPC
import HarepostTime
import Logging

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure harepost against a baseline taken in the same run.",
        subcommands: [AuthBench.self, FillCommand.self]
    )
}

/// `harepost bench auth`: Authenticate calls against Health/Check calls on the
/// same connection (same framing and transport, no database), so the ratio
/// isolates the cost of the key lookup on a shared, noisy machine.
struct AuthBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Throughput and latency of Authenticate (one indexed read) vs the health RPC."
    )

    @Option(help: "The auth component's socket.")
    var authSocket: String = "run/auth.sock"

    @Option(help: "Calls per measurement.")
    var requests: Int = 20_000

    @Option(help: "Calls in flight at once (on one multiplexed connection).")
    var concurrency: Int = 64

    @Flag(help: "Print a Markdown table instead of text.")
    var markdown = false

    struct Measurement {
        let name: String
        let seconds: Double
        let latencies: [Duration]
        var callsPerSecond: Double { Double(latencies.count) / seconds }

        func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            let nanoseconds = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))].nanoseconds
            return Double(nanoseconds) / 1_000_000
        }
    }

    func validate() throws {
        guard requests > 0, concurrency > 0 else {
            throw ValidationError("--requests and --concurrency must be positive")
        }
    }

    func run() async throws {
        var logger = Logger(label: "harepost.bench")
        logger.logLevel = .critical
        let client = RPCClient(configuration: .init(endpoint: .unixSocket(path: authSocket)), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            var create = AuthV1.CreateAccountRequest()
            create.name = "bench"
            let account = try await client.call(AuthV1.Auth.CreateAccount.self, create)
            var authenticate = AuthV1.AuthenticateRequest()
            authenticate.apiKey = account.apiKey
            // Warm up both paths (connection, page cache, code).
            _ = try await measure(
                "warm-up",
                client,
                AuthV1.Auth.Authenticate.self,
                authenticate,
                count: min(requests, 2000)
            )
            let baseline = try await measure(
                "Health/Check (baseline)",
                client,
                RPCV1.Health.Check.self,
                RPCV1.HealthCheckRequest(),
                count: requests
            )
            let lookup = try await measure(
                "Authenticate",
                client,
                AuthV1.Auth.Authenticate.self,
                authenticate,
                count: requests
            )
            report(baseline: baseline, lookup: lookup)
        }
    }

    private func measure<Method: RPCMethodContract>(
        _ name: String,
        _ client: RPCClient,
        _ method: Method.Type,
        _ request: Method.Input,
        count: Int
    ) async throws -> Measurement {
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var latencies: [Duration] = []
                    for _ in stride(from: worker, to: count, by: concurrency) {
                        let callStarted = ContinuousClock.now
                        _ = try await client.call(method, request)
                        latencies.append(ContinuousClock.now - callStarted)
                    }
                    return latencies
                }
            }
            var all: [Duration] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = ContinuousClock.now - started
        return Measurement(name: name, seconds: Double(elapsed.nanoseconds) / 1e9, latencies: latencies)
    }

    private func report(baseline: Measurement, lookup: Measurement) {
        let ratio = lookup.callsPerSecond / baseline.callsPerSecond
        let rows = [baseline, lookup].map { m in
            (
                m.name, String(format: "%.0f", m.callsPerSecond), String(format: "%.2f", m.percentile(0.5)),
                String(format: "%.2f", m.percentile(0.99))
            )
        }
        if markdown {
            print("| calls | calls/s | p50 ms | p99 ms |")
            print("|---|---|---|---|")
            for row in rows { print("| \(row.0) | \(row.1) | \(row.2) | \(row.3) |") }
            print(
                "\nAuthenticate reaches **\(String(format: "%.0f%%", ratio * 100))** of the baseline's calls/s (\(requests) calls each, \(concurrency) in flight, one connection)."
            )
        } else {
            for row in rows { print("\(row.0): \(row.1) calls/s, p50 \(row.2) ms, p99 \(row.3) ms") }
            print(String(format: "Authenticate / baseline: %.2f", ratio))
        }
    }
}
