import Foundation
public import Logging
import NIOConcurrencyHelpers
public import ServiceLifecycle

/// A program the ``Supervisor`` keeps running.
public struct SupervisedProgram: Sendable {
    /// Names the program in logs and its pid file (`auth`, `store`, …).
    public var name: String
    public var executable: String
    public var arguments: [String]
    /// Added to the supervisor's own environment.
    public var environment: [String: String]

    public init(name: String, executable: String, arguments: [String], environment: [String: String] = [:]) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }
}

/// Runs programs as child processes, restarts any that exits (with
/// exponential backoff), and stops them in reverse order on graceful shutdown.
///
/// - A child that exits for any reason while the supervisor is running is
///   started again after a delay that doubles from `initialBackoff` up to
///   `maximumBackoff`; a child that ran for `stableAfter` starts over at the
///   initial delay.
/// - On graceful shutdown the children get SIGTERM one at a time, last program
///   first (so the gateway stops taking requests before the store goes away);
///   one that has not exited after `stopTimeout` gets SIGKILL.
/// - Each child gets `HAREPOST_SUPERVISOR_PID`, so a component can notice that
///   its supervisor died (even by SIGKILL) and shut itself down.
/// - With a `pidDirectory`, each running child's pid is in `<name>.pid` there.
public final class Supervisor: Service, Sendable {
    public struct Configuration: Sendable {
        public var initialBackoff: Duration
        public var maximumBackoff: Duration
        public var stableAfter: Duration
        public var stopTimeout: Duration
        public var pidDirectory: String?

        public init(
            initialBackoff: Duration = .milliseconds(100),
            maximumBackoff: Duration = .seconds(10),
            stableAfter: Duration = .seconds(30),
            stopTimeout: Duration = .seconds(15),
            pidDirectory: String? = nil
        ) {
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.stableAfter = stableAfter
            self.stopTimeout = stopTimeout
            self.pidDirectory = pidDirectory
        }
    }

    /// The environment variable naming the supervisor's pid in each child.
    public static let supervisorPIDVariable = "HAREPOST_SUPERVISOR_PID"

    private struct Slot {
        var child: ChildProcess?
        var stopping = false
        var starts = 0
    }

    public let programs: [SupervisedProgram]
    public let configuration: Configuration
    private let logger: Logger
    private let slots: NIOLockedValueBox<[String: Slot]>

    public init(programs: [SupervisedProgram], configuration: Configuration = Configuration(), logger: Logger) {
        precondition(Set(programs.map(\.name)).count == programs.count, "program names must be unique")
        self.programs = programs
        self.configuration = configuration
        self.logger = logger
        self.slots = NIOLockedValueBox(Dictionary(uniqueKeysWithValues: programs.map { ($0.name, Slot()) }))
    }

    /// The running child's pid of program `name`, nil while it is not running.
    public func processID(of name: String) -> Int32? {
        slots.withLockedValue { $0[name]?.child?.id }
    }

    /// How many times program `name` has been started.
    public func starts(of name: String) -> Int {
        slots.withLockedValue { $0[name]?.starts ?? 0 }
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for program in programs {
                group.addTask { await self.keepRunning(program) }
            }
            group.addTask {
                // Returns at graceful shutdown, or throws when the group is cancelled.
                guard (try? await gracefulShutdown()) != nil else { return }
                await self.stopAll()
            }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                // Not graceful: nothing may outlive the supervisor.
                self.killAll()
            }
        }
        // However it ended, no pid file may name a process that is gone.
        for program in programs { removePIDFile(program.name) }
    }

    /// The longest an orderly stop can take: every program in turn using its
    /// whole stop timeout. A service group running the supervisor should allow
    /// at least this for graceful shutdown.
    public var maximumStopDuration: Duration {
        configuration.stopTimeout * programs.count
    }

    /// Starts `program` and starts it again whenever it exits, until it is stopped.
    private func keepRunning(_ program: SupervisedProgram) async {
        var logger = self.logger
        logger[metadataKey: "supervisor.program"] = "\(program.name)"
        var backoff = configuration.initialBackoff
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let child: ChildProcess
            do {
                guard let running = try start(program) else { return }
                child = running
            } catch {
                logger.error("cannot start program", metadata: ["error": "\(error)"])
                guard await pause(backoff) else { return }
                backoff = min(backoff * 2, configuration.maximumBackoff)
                continue
            }
            logger.info("started", metadata: ["process.id": "\(child.id)"])
            guard let exit = await child.exit() else { return }
            let stopping = slots.withLockedValue { slots -> Bool in
                slots[program.name]?.child = nil
                return slots[program.name]?.stopping ?? true
            }
            removePIDFile(program.name)
            if stopping {
                logger.info("stopped", metadata: ["process.exit": "\(exit)"])
                return
            }
            if ContinuousClock.now - started >= configuration.stableAfter { backoff = configuration.initialBackoff }
            logger.warning(
                "exited; restarting",
                metadata: ["process.exit": "\(exit)", "supervisor.backoff_ms": "\(Int(backoff / .milliseconds(1)))"]
            )
            guard await pause(backoff) else { return }
            backoff = min(backoff * 2, configuration.maximumBackoff)
        }
    }

    /// Starts a child unless the program is being stopped (nil then).
    private func start(_ program: SupervisedProgram) throws -> ChildProcess? {
        var environment = program.environment
        environment[Self.supervisorPIDVariable] = "\(getpid())"
        // Under the lock, so a stop that has begun cannot miss a child started now.
        let child = try slots.withLockedValue { slots -> ChildProcess? in
            guard slots[program.name]?.stopping == false else { return nil }
            let child = try ChildProcess(
                executable: program.executable,
                arguments: program.arguments,
                environment: environment
            )
            slots[program.name]?.child = child
            slots[program.name]?.starts += 1
            return child
        }
        if let child { writePIDFile(program.name, child.id) }
        return child
    }

    /// Sleeps `delay`; false when graceful shutdown or cancellation came first.
    private func pause(_ delay: Duration) async -> Bool {
        (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }) != nil
            && !Task.isShuttingDownGracefully
    }

    /// SIGTERM to each program in reverse order, each waited for (SIGKILL after the timeout).
    private func stopAll() async {
        for program in programs.reversed() {
            let child = slots.withLockedValue { slots -> ChildProcess? in
                slots[program.name]?.stopping = true
                return slots[program.name]?.child
            }
            guard let child else { continue }
            logger.info("stopping", metadata: ["supervisor.program": "\(program.name)", "process.id": "\(child.id)"])
            child.send(SIGTERM)
            if await child.exit(within: configuration.stopTimeout) == nil {
                logger.warning(
                    "did not stop in time; killing",
                    metadata: ["supervisor.program": "\(program.name)", "process.id": "\(child.id)"]
                )
                child.send(SIGKILL)
                _ = await child.exit()
            }
        }
    }

    private func killAll() {
        let children = slots.withLockedValue { slots in
            for name in slots.keys { slots[name]?.stopping = true }
            return slots.values.compactMap(\.child)
        }
        for child in children { child.send(SIGKILL) }
    }

    private func writePIDFile(_ name: String, _ pid: Int32) {
        guard let directory = configuration.pidDirectory else { return }
        try? "\(pid)\n".write(toFile: "\(directory)/\(name).pid", atomically: true, encoding: .utf8)
    }

    private func removePIDFile(_ name: String) {
        guard let directory = configuration.pidDirectory else { return }
        try? FileManager.default.removeItem(atPath: "\(directory)/\(name).pid")
    }
}
