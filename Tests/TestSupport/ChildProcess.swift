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
        public init(description: String) { self.description = description }
    }

    /// Runs `executable` with `arguments` in `directory` and waits for it, blocking the calling
    /// thread (for synchronous code; async tests get the overload below).
    ///
    /// Output goes to temporary files rather than pipes: a daemon the program starts (`pg_ctl start`)
    /// may keep inherited descriptors open long after the program itself has exited.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) throws -> Result {
        let started = try Started(executable, arguments, in: directory, environment: environment)
        return started.result(status: started.child.waitBlocking())
    }

    /// Runs `executable` with `arguments` in `directory` and waits for it without holding a thread.
    ///
    /// Async tests must use this one: a blocking wait occupies one of the few threads of Swift's
    /// cooperative pool, and with two cores two such waits (a Python suite runs for half a minute)
    /// stall every other test's tasks, heartbeats and timeouts included.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) async throws -> Result {
        let started = try Started(executable, arguments, in: directory, environment: environment)
        return started.result(status: await started.child.wait())
    }

    /// A started child whose output goes to two temporary files.
    private struct Started {
        let child: Subprocess
        let outputPath: String
        let errorPath: String

        init(_ executable: URL, _ arguments: [String], in directory: URL?, environment: [String: String]?) throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("vane-child-\(UUID().uuidString.prefix(12))")
            outputPath = base.path + ".out"
            errorPath = base.path + ".err"
            var program = executable.path
            var programArguments = arguments
            if let directory {
                guard FileManager.default.isExecutableFile(atPath: program) else {
                    throw LaunchError(description: "\(program) is missing; run `make test`, which builds and installs it")
                }
                programArguments = ["-C", directory.path, program] + arguments
                program = "/usr/bin/env"
            }
            child = try Subprocess(
                program, programArguments, environment: environment,
                standardInput: .null, standardOutput: .file(outputPath), standardError: .file(errorPath))
        }

        /// The exit status and both outputs; removes the files.
        func result(status: Int32) -> Result {
            defer {
                unlink(outputPath)
                unlink(errorPath)
            }
            return Result(
                status: status,
                standardOutput: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
                standardError: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
        }
    }
}
