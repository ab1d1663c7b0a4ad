public import Foundation
public import Logging
public import ServiceLifecycle

/// The child's side of the ``Supervisor``: returns (which shuts the
/// component's service group down gracefully) once the supervisor that started
/// this process is gone, so no component outlives a killed `harepost up`.
public struct SupervisorWatch: Service {
    private let supervisor: pid_t
    private let interval: Duration
    private let logger: Logger

    /// A watch when this process was started by a supervisor, else nil.
    public init?(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        interval: Duration = .milliseconds(500),
        logger: Logger
    ) {
        guard let value = environment[Supervisor.supervisorPIDVariable], let pid = pid_t(value), pid > 1 else {
            return nil
        }
        self.supervisor = pid
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // An orphan is re-parented (to init or a subreaper), so the parent id changes.
        while getppid() == supervisor {
            guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: interval) })) != nil else {
                return
            }
        }
        logger.warning("supervisor is gone; shutting down", metadata: ["supervisor.pid": "\(supervisor)"])
    }
}
