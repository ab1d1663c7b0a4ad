import ArgumentParser
import Foundation

@main
struct Harepost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harepost",
        abstract: "A self-hosted webhook delivery platform.",
        subcommands: [
            UpCommand.self,
            AuthCommand.self,
            StoreCommand.self,
            DispatcherCommand.self,
            GatewayCommand.self,
            SendCommand.self,
            DeliveriesCommand.self,
            AttemptsCommand.self,
            AccountsCommand.self,
            KeysCommand.self,
            SigningSecretCommand.self,
            BenchCommand.self,
            HealthCommand.self,
            MigrateSQLiteToPostgresCommand.self,
        ]
    )

    /// Every file a harepost process creates is its user's alone (databases,
    /// their WAL and shared-memory files, sockets, the dev account): other
    /// local users must not read signing secrets (docs/operations.md).
    static func main() async {
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
