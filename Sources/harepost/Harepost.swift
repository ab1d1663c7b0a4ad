import ArgumentParser

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
        ]
    )
}
