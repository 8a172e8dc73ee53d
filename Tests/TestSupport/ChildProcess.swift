import Foundation

/// Runs a program to completion and collects its output.
public struct ChildProcess: Sendable {
    /// What a finished program left behind.
    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
    }

    /// A program that cannot be started.
    public struct LaunchError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `executable` with `arguments` in `directory` and waits for it.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw LaunchError(description: "\(executable.path) is missing; run `make test`, which builds and installs it")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes concurrently so that neither fills up and blocks the child.
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(error.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let status = waitForExit(process)
        while !errorData.isSet { Thread.sleep(forTimeInterval: 0.005) }
        return Result(
            status: status,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.value, as: UTF8.self))
    }
}

/// The exit status of `process`, reaping it here if Foundation has not.
///
/// Foundation's own exit monitoring misses some children in the test runner (observed with
/// `runuser … pg_ctl start`: the child stayed a zombie and `waitUntilExit()` never returned), so the
/// child is also polled with `waitpid`. An exit code is returned as is, a signal as 128 + signal.
private func waitForExit(_ process: Process) -> Int32 {
    let pid = process.processIdentifier
    while true {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }
        if result == -1, errno != EINTR {
            // Foundation reaped it first and knows the status.
            process.waitUntilExit()
            return process.terminationStatus
        }
        if result == 0, !process.isRunning { return process.terminationStatus }
        usleep(2_000)
    }
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ data: Data) { lock.withLock { self.data = data } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
