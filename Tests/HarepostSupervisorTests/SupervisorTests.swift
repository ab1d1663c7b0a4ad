import Foundation
import HarepostSupervisor
import HarepostTestSupport
import Logging
import ServiceLifecycle
import Testing

/// A shell program for the supervisor to run.
private func shell(_ name: String, _ script: String) -> SupervisedProgram {
    SupervisedProgram(name: name, executable: "/bin/sh", arguments: ["-c", script])
}

private func quietLogger() -> Logger {
    var logger = Logger(label: "harepost.supervisor.test")
    logger.logLevel = .critical
    return logger
}

/// Runs `supervisor` in a service group while `body` runs, then shuts the
/// group down gracefully and waits for it.
private func withSupervisor(
    _ supervisor: Supervisor,
    _ body: (Supervisor) async throws -> Void
) async throws {
    let group = ServiceGroup(services: [supervisor], logger: quietLogger())
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body(supervisor)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
private func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

private func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

@Suite("Supervisor", .timeLimit(.minutes(1)))
struct SupervisorTests {
    @Test func aProgramThatExitsIsStartedAgainWithBackoff() async throws {
        let supervisor = Supervisor(
            programs: [shell("flaky", "exit 3")],
            configuration: .init(initialBackoff: .milliseconds(20), maximumBackoff: .milliseconds(80)),
            logger: quietLogger()
        )
        let started = ContinuousClock.now
        try await withSupervisor(supervisor) { supervisor in
            #expect(await eventually { supervisor.starts(of: "flaky") >= 4 })
        }
        // Delays 20 + 40 + 80 ms at least passed between the first four starts.
        #expect(ContinuousClock.now - started >= .milliseconds(140))
    }

    @Test func aKilledChildIsReplacedAndItsPIDFileFollows() async throws {
        let directory = try makeTemporaryDirectory("hp-sup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let supervisor = Supervisor(
            programs: [shell("worker", "exec sleep 60")],
            configuration: .init(initialBackoff: .milliseconds(10), pidDirectory: directory),
            logger: quietLogger()
        )
        try await withSupervisor(supervisor) { supervisor in
            #expect(await eventually { supervisor.processID(of: "worker") != nil })
            let first = try #require(supervisor.processID(of: "worker"))
            #expect(
                await eventually {
                    (try? String(contentsOfFile: "\(directory)/worker.pid", encoding: .utf8)) == "\(first)\n"
                }
            )

            kill(first, SIGKILL)
            #expect(await eventually { (supervisor.processID(of: "worker") ?? first) != first })
            let second = try #require(supervisor.processID(of: "worker"))
            #expect(isAlive(second))
            #expect(
                await eventually {
                    (try? String(contentsOfFile: "\(directory)/worker.pid", encoding: .utf8)) == "\(second)\n"
                }
            )
        }
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/worker.pid"))
    }

    @Test func gracefulShutdownStopsTheProgramsLastFirstAndDoesNotRestartThem() async throws {
        let directory = try makeTemporaryDirectory("hp-sup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = "\(directory)/stops.log"
        // Each appends its name when it gets SIGTERM, after a short pause that
        // would let a concurrent stop of the next one overtake it.
        let program = { (name: String) in
            shell(name, "trap 'sleep 0.1; echo \(name) >> \(log); exit 0' TERM; while :; do sleep 0.02; done")
        }
        let supervisor = Supervisor(
            programs: [program("auth"), program("store"), program("gateway")],
            configuration: .init(initialBackoff: .milliseconds(10)),
            logger: quietLogger()
        )
        var pids: [Int32] = []
        try await withSupervisor(supervisor) { supervisor in
            #expect(
                await eventually { ["auth", "store", "gateway"].allSatisfy { supervisor.processID(of: $0) != nil } }
            )
            pids = ["auth", "store", "gateway"].compactMap { supervisor.processID(of: $0) }
        }
        let stops = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(stops == ["gateway", "store", "auth"])
        #expect(pids.count == 3)
        #expect(pids.allSatisfy { !isAlive($0) })
        #expect(["auth", "store", "gateway"].allSatisfy { supervisor.starts(of: $0) == 1 })
    }

    @Test func aChildThatIgnoresSIGTERMIsKilledAfterTheStopTimeout() async throws {
        let supervisor = Supervisor(
            programs: [shell("stubborn", "trap '' TERM; while :; do sleep 0.02; done")],
            configuration: .init(stopTimeout: .milliseconds(300)),
            logger: quietLogger()
        )
        var pid: Int32 = 0
        let stopping = ContinuousClock.now
        try await withSupervisor(supervisor) { supervisor in
            #expect(await eventually { supervisor.processID(of: "stubborn") != nil })
            pid = supervisor.processID(of: "stubborn") ?? 0
        }
        #expect(pid > 0 && !isAlive(pid))
        #expect(ContinuousClock.now - stopping >= .milliseconds(300))
    }

    @Test func childrenLearnTheSupervisorsPID() async throws {
        let directory = try makeTemporaryDirectory("hp-sup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = "\(directory)/env"
        let supervisor = Supervisor(
            programs: [shell("env", "echo $\(Supervisor.supervisorPIDVariable) > \(out); exec sleep 60")],
            logger: quietLogger()
        )
        try await withSupervisor(supervisor) { _ in
            #expect(await eventually { (try? String(contentsOfFile: out, encoding: .utf8)) == "\(getpid())\n" })
        }
    }

    @Test func theWatchIsOffWithoutASupervisorAndEndsWhenTheParentIsNotIt() async throws {
        #expect(SupervisorWatch(environment: [:], logger: quietLogger()) == nil)
        #expect(SupervisorWatch(environment: [Supervisor.supervisorPIDVariable: "x"], logger: quietLogger()) == nil)
        // This process's parent is not pid 999999: the watch returns at once.
        let watch = try #require(
            SupervisorWatch(environment: [Supervisor.supervisorPIDVariable: "999999"], logger: quietLogger())
        )
        try await watch.run()
    }
}

@Suite("Supervisor signals", .serialized)
struct SupervisorSignalTests {
    /// A supervisor under ServiceLifecycle has SIGTERM set to SIG_IGN; its
    /// children must still start with the default action, or SIGTERM would
    /// not stop them.
    @Test func childrenStartWithDefaultSignalHandlingEvenWhenTheSupervisorIgnoresSIGTERM() async throws {
        let directory = try makeTemporaryDirectory("hp-sup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        let out = "\(directory)/status"
        let supervisor = Supervisor(
            programs: [shell("child", "grep SigIgn /proc/$$/status > \(out).tmp; mv \(out).tmp \(out); exec sleep 60")],
            logger: quietLogger()
        )
        let stopping = ContinuousClock.now
        try await withSupervisor(supervisor) { _ in
            #expect(await eventually { FileManager.default.fileExists(atPath: out) })
        }
        let line = try String(contentsOfFile: out, encoding: .utf8)
        let mask = try #require(
            UInt64(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", radix: 16)
        )
        #expect(mask & (1 << (UInt64(SIGTERM) - 1)) == 0)
        // SIGTERM stopped it: the stop ended before the 15 s after which
        // the supervisor would have sent SIGKILL.
        #expect(ContinuousClock.now - stopping < .seconds(14))
    }
}
