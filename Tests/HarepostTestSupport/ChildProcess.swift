public import Foundation

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
    while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
    return (
        process.terminationStatus,
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
    public var isRunning: Bool { process.isRunning }

    public func terminate() { kill(process.processIdentifier, SIGTERM) }
    public func kill9() { kill(process.processIdentifier, SIGKILL) }

    /// Waits (without blocking a pool thread) for the process to exit; its
    /// status, or nil after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(10)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
