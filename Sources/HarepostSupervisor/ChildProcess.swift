import Foundation
import NIOConcurrencyHelpers

/// How a child process ended.
public enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    public var description: String {
        switch self {
        case .exited(let status): "exit status \(status)"
        case .signalled(let signal): "signal \(signal)"
        }
    }

    /// Decodes a `waitpid` status.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}

/// One running OS process started by the supervisor.
///
/// Started with `posix_spawn` so that the child gets default signal handling
/// and an empty signal mask: a supervisor that handles SIGTERM through
/// ServiceLifecycle has set it to SIG_IGN, which children would otherwise
/// inherit (Foundation's `Process` passes it on). The child gets its own
/// process group, so a Ctrl-C in the terminal reaches only the supervisor,
/// which then stops the children in order. Standard input is /dev/null; output
/// and errors are inherited (the components log to standard error).
public final class ChildProcess: Sendable {
    public struct SpawnError: Error, CustomStringConvertible {
        public let executable: String
        public let code: Int32
        public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    /// The process id.
    public let id: Int32
    /// Set once the process has been reaped; guards signals against pid reuse.
    private let state = NIOLockedValueBox<ChildExit?>(nil)

    public init(executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Int32(1)..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes,
            Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)
        )
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") }
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let code = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], envp + [nil])
        guard code == 0 else { throw SpawnError(executable: executable, code: code) }
        self.id = pid
    }

    /// Sends `signal` (SIGTERM, SIGKILL, …) unless the process has been reaped.
    public func send(_ signal: Int32) {
        state.withLockedValue { exit in
            if exit == nil { kill(id, signal) }
        }
    }

    /// Waits for the process to end (it is reaped then); nil if the waiting task
    /// is cancelled first. Polls, so an exit is noticed within 20 ms.
    public func exit() async -> ChildExit? {
        await exit(before: nil)
    }

    /// Waits for the process to end, at most `timeout`; nil if it is still running.
    public func exit(within timeout: Duration) async -> ChildExit? {
        await exit(before: .now + timeout)
    }

    private func exit(before deadline: ContinuousClock.Instant?) async -> ChildExit? {
        while true {
            if let exit = reap() { return exit }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                return nil
            }
        }
    }

    /// The exit, reaping the process if it has just ended.
    private func reap() -> ChildExit? {
        state.withLockedValue { exit in
            if let exit { return exit }
            var status: Int32 = 0
            guard waitpid(id, &status, WNOHANG) == id else { return nil }
            exit = ChildExit(waitStatus: status)
            return exit
        }
    }
}
