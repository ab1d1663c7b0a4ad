import ArgumentParser
import HarepostContracts
import HarepostJSON

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
        let health = try await operatorCall(
            socket: socket,
            RPCV1.Health.Check.self,
            RPCV1.HealthCheckRequest(),
            timeout: timeout
        )
        print(JSONWriter.string(ProtoJSON.encode(health.protoMessage)))
        if health.status != .serving { throw ExitCode(1) }
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
