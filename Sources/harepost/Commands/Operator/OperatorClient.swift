import ArgumentParser
import Foundation
import HarepostContracts
import HarepostJSON
import HarepostProto
import HarepostRPC
import HarepostTime
import Logging
import ServiceLifecycle

/// How operator commands reach a component: its socket, and output format.
struct OperatorOptions: ParsableArguments {
    @Option(help: "The auth component's socket (default: <run-dir>/auth.sock).")
    var authSocket: String?

    @Option(help: "Directory holding the components' sockets.")
    var runDir: String = "run"

    @Flag(help: "Print the result as JSON (for scripts).")
    var json = false

    @Option(help: "Seconds to wait for the component.")
    var timeout: Double = 5

    var authPath: String { authSocket ?? ProcessOptions.socketPath(for: "auth", in: runDir) }
}

/// Makes one call to a running component, acting for `account` when given.
func operatorCall<Method: RPCMethodContract>(
    socket: String,
    _ method: Method.Type,
    _ request: Method.Input,
    account: String? = nil,
    timeout: Double
) async throws -> Method.Output {
    var logger = Logger(label: "harepost.cli")
    logger.logLevel = .critical
    let client = RPCClient(configuration: .init(endpoint: .unixSocket(path: socket)), logger: logger)
    var metadata: [String: String] = [:]
    if let account { metadata[RPCMetadataKey.accountID] = account }
    let options = RPCCallOptions(timeout: .milliseconds(Int64(timeout * 1000)), metadata: metadata)
    let result = await whileRunning(client) { () async -> Result<Method.Output, RPCError> in
        do throws(RPCError) {
            return .success(try await client.call(method, request, options: options))
        } catch {
            return .failure(error)
        }
    }
    switch result {
    case .success(let response):
        return response
    case .failure(let error):
        printError("error: \(error.message) (\(error.code))")
        throw ExitCode(error.code == .unavailable ? 69 : 1)
    }
}

/// Runs `service` (a client's connection loop or curl's thread) only while `body` runs.
func whileRunning<T: Sendable>(_ service: some Service, _ body: @Sendable () async -> T) async -> T {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { try? await service.run() }
        let result = await body()
        group.cancelAll()
        return result
    }
}

/// Prints `message` as JSON, or `human()` for people.
func output(_ message: some ProtoContract, json: Bool, human: () -> String) {
    print(json ? JSONWriter.string(ProtoJSON.encode(message.protoMessage)) : human())
}

/// Renders rows as aligned columns under a header.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// A timestamp rendered as RFC 3339, or `-` when absent.
func timeText(_ timestamp: GoogleProtobuf.Timestamp?) -> String {
    guard let timestamp else { return "-" }
    return RFC3339.format(seconds: timestamp.seconds)
}

/// An `--environment` option's value: live or test.
func environmentOption(_ text: String) throws -> AuthV1.Environment {
    switch AuthV1.Environment(jsonName: text) {
    case .live?: .live
    case .test?: .test
    default: throw ValidationError("--environment must be live or test")
    }
}
