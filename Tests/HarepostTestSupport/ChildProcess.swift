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
