import ArgumentParser
import HarepostRPC

// The component processes. Each serves its RPC contract from proto/ on its own
// Unix socket; methods whose service code has not landed yet answer UNIMPLEMENTED.

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Run the auth component (accounts, API keys, signing secrets)."
    )

    @OptionGroup var options: ComponentOptions

    func run() async throws {
        try await runComponent("auth", router: RPCRouter(), options: options)
    }
}

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Run the store component (domains, deliveries, attempts, the due-work queue)."
    )

    @OptionGroup var options: ComponentOptions

    func run() async throws {
        try await runComponent("store", router: RPCRouter(), options: options)
    }
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatcher",
        abstract: "Run the dispatcher component (delivers queued webhooks)."
    )

    @OptionGroup var options: ComponentOptions

    func run() async throws {
        try await runComponent("dispatcher", router: RPCRouter(), options: options)
    }
}
