import ServiceLifecycle

/// Work that runs for as long as the process serves, as a lifecycle service:
/// cancelled at graceful shutdown.
struct BackgroundTask: Service {
    let work: @Sendable () async -> Void

    init(_ work: @escaping @Sendable () async -> Void) { self.work = work }

    func run() async throws {
        await cancelWhenGracefulShutdown { await work() }
    }
}
