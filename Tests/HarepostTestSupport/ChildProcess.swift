public import Foundation
import NIOConcurrencyHelpers

/// Runs a program to completion without blocking a thread of the cooperative
/// pool (it has two here): `waitUntilExit()` there can deadlock the whole test
/// run while Foundation's child reaper waits on another test's process.
/// Output is collected after exit, so it must fit a pipe buffer (64 KiB).
public func runChildProcess(
    _ executable: URL,
    _ arguments: [String],
    input: [UInt8]? = nil
) async throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { try stdin.fileHandleForWriting.write(contentsOf: Data(input)) }
    try stdin.fileHandleForWriting.close()
    var reaped: Int32?
    while process.isRunning, reaped == nil {
        reaped = exitStatusIfExited(process.processIdentifier)
        if reaped == nil { try await Task.sleep(for: .milliseconds(10)) }
    }
    return (
        reaped ?? process.terminationStatus,
        String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
        String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    )
}

/// `/usr/bin/env <arguments>`: runs a tool found on PATH (python3, protoc).
public func runTool(_ arguments: [String], input: [UInt8]? = nil) async throws -> (
    status: Int32, output: String, errors: String
) {
    try await runChildProcess(URL(fileURLWithPath: "/usr/bin/env"), arguments, input: input)
}

/// A long-running child process (a component, a test target) that the test
/// stops itself. Killed with SIGKILL if still running when released.
public final class ChildProcessHandle: Sendable {
    private let process: Process
    /// The status this handle reaped itself (see ``exitStatusIfExited(_:)``).
    private let reaped = NIOLockedValueBox<Int32?>(nil)

    private init(process: Process) {
        self.process = process
    }

    /// Starts `executable`; its output goes to /dev/null unless `keepOutput`.
    public static func start(
        _ executable: URL,
        _ arguments: [String],
        directory: String? = nil,
        keepOutput: Bool = false
    ) throws -> ChildProcessHandle {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if !keepOutput {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return ChildProcessHandle(process: process)
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { exitStatus == nil }

    /// The status once the process has exited; nil while it runs.
    private var exitStatus: Int32? {
        if !process.isRunning { return process.terminationStatus }
        return reaped.withLockedValue { reaped in
            if reaped == nil { reaped = exitStatusIfExited(process.processIdentifier) }
            return reaped
        }
    }

    public func terminate() { kill(process.processIdentifier, SIGTERM) }
    public func kill9() { kill(process.processIdentifier, SIGKILL) }

    /// Waits (without blocking a pool thread) for the process to exit; its
    /// status, or nil after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return exitStatus
    }

    deinit {
        if isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// The exit status of child `pid` if it has exited, reaping it: Foundation's
/// `Process` sometimes never notices a child's exit on Linux (seen once a
/// test process has reaped other children itself), leaving it a zombie that
/// it reports as running. A signal's death is 128 + the signal, as a shell says.
func exitStatusIfExited(_ pid: Int32) -> Int32? {
    var status: Int32 = 0
    guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
    let signal = status & 0x7F
    return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
}
