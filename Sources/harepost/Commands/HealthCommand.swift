import ArgumentParser
import HarepostJSON
import HarepostRPC
import Logging

/// `harepost health --socket run/store.sock`: asks a component for its health.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Ask a component for its health; prints it as JSON, exits 0 only when serving."
    )

    @Option(help: "The component's Unix socket.")
    var socket: String

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 2

    func run() async throws {
        var logger = Logger(label: "harepost.health")
        logger.logLevel = .critical
        let client = RPCClient(configuration: .init(endpoint: .unixSocket(path: socket)), logger: logger)
        let result = await withTaskGroup(of: Result<String, RPCError>?.self) { group in
            group.addTask {
                try? await client.run()
                return nil
            }
            group.addTask {
                do throws(RPCError) {
                    let health = try await client.checkHealth(timeout: .milliseconds(Int64(timeout * 1000)))
                    return .success(JSONWriter.string(ProtoJSON.encode(health)))
                } catch {
                    return .failure(error)
                }
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(RPCError.unavailable("no answer"))
        }
        switch result {
        case .success(let json):
            print(json)
            if !json.contains(#""status":"serving""#) { throw ExitCode(1) }
        case .failure(let error):
            printError("\(socket): \(error)")
            throw ExitCode(1)
        }
    }
}

func printError(_ message: String) {
    var standardError = StandardError()
    print(message, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleStandardError.write(string)
    }
}
