import Foundation
import HarepostContracts
public import HarepostCurl
import HarepostProto
public import HarepostRPC
public import HarepostTime
public import Logging
import NIOConcurrencyHelpers
public import ServiceLifecycle

/// The delivery loop: claims due deliveries from the store (a long poll),
/// attempts each over HTTP, decides the next step with ``RetryPolicy`` and
/// records the attempt under the task's lease. It keeps no durable state; a
/// task it never reports on is handed out again when its lease expires.
///
/// On graceful shutdown it stops claiming and lets in-flight deliveries
/// finish; the process's shutdown bound cancels whatever is left (those
/// leases expire and the store re-offers the deliveries).
public final class Dispatcher: Service, Sendable {
    public struct Configuration: Sendable {
        /// Names this dispatcher in the store's leases and logs.
        public var workerID: String
        /// Deliveries attempted at once.
        public var maximumInFlight: Int
        /// How long one ClaimDue long poll waits for due work.
        public var claimWait: Duration
        /// Also send the Standard Webhooks headers on signed deliveries.
        public var standardWebhooks: Bool
        /// How long a fetched signing secret is used before asking auth again.
        public var signingSecretTimeToLive: Duration
        /// The time of day: attempt times, timestamps signed, lease checks.
        public var clock: any WallClock

        public init(
            workerID: String,
            maximumInFlight: Int = 64,
            claimWait: Duration = .seconds(10),
            standardWebhooks: Bool = false,
            signingSecretTimeToLive: Duration = .seconds(60),
            clock: any WallClock = SystemWallClock()
        ) {
            self.workerID = workerID
            self.maximumInFlight = maximumInFlight
            self.claimWait = claimWait
            self.standardWebhooks = standardWebhooks
            self.signingSecretTimeToLive = signingSecretTimeToLive
            self.clock = clock
        }
    }

    struct Statistics {
        var inFlight = 0
        var attemptsDelivered = 0
        var attemptsFailed = 0
        var pendingRecords = 0
    }

    public let configuration: Configuration
    let store: any RPCCaller
    let http: any OutboundHTTP
    let secrets: SigningSecrets
    let logger: Logger
    let statistics = NIOLockedValueBox(Statistics())
    let startedAt: Int64

    public init(
        configuration: Configuration,
        store: any RPCCaller,
        auth: any RPCCaller,
        http: any OutboundHTTP,
        logger: Logger
    ) {
        self.configuration = configuration
        self.startedAt = configuration.clock.unixMilliseconds
        self.store = store
        self.http = http
        self.secrets = SigningSecrets(auth: auth, timeToLive: configuration.signingSecretTimeToLive)
        self.logger = logger
    }

    public func run() async {
        let slots = InFlightSlots(limit: configuration.maximumInFlight)
        let (tasks, sink) = AsyncStream.makeStream(of: DeliveryTask.self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown { await self.claimLoop(slots: slots, sink: sink) }
                sink.finish()
            }
            for await task in tasks {
                group.addTask {
                    await self.deliver(task)
                    await slots.release(1)
                }
            }
        }
        logger.info("dispatcher stopped")
    }

    /// Claims as many tasks as there are free slots, again and again.
    func claimLoop(slots: InFlightSlots, sink: AsyncStream<DeliveryTask>.Continuation) async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            let free = await slots.takeAvailable()
            guard free > 0 else { return }
            do {
                let claimed = try await claim(free)
                backoff = .milliseconds(100)
                await slots.release(free - claimed.count)
                for task in claimed { sink.yield(task) }
            } catch {
                await slots.release(free)
                if Task.isCancelled { return }
                logger.warning(
                    "cannot claim work from the store; retrying",
                    metadata: ["error": "\(error)", "retry.in_ms": "\(backoff.nanoseconds / 1_000_000)"]
                )
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    func claim(_ count: Int) async throws -> [DeliveryTask] {
        var request = StoreV1.ClaimDueRequest()
        request.maxTasks = Int32(clamping: count)
        request.waitMs = configuration.claimWait.nanoseconds / 1_000_000
        request.workerID = configuration.workerID
        let response = try await store.call(
            StoreV1.Store.ClaimDue.self,
            request,
            options: RPCCallOptions(timeout: configuration.claimWait + .seconds(5))
        )
        return response.tasks.map(DeliveryTask.init)
    }
}
