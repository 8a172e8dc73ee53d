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

    /// Runs `executable` with `arguments` in `directory` and waits for it.
    ///
    /// Output goes to temporary files rather than pipes: a daemon the program starts (`pg_ctl start`)
    /// may keep inherited descriptors open long after the program itself has exited.
    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) throws -> Result {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vane-child-\(UUID().uuidString.prefix(12))")
        let outputPath = base.path + ".out"
        let errorPath = base.path + ".err"
        defer {
            unlink(outputPath)
            unlink(errorPath)
        }
        var program = executable.path
        var programArguments = arguments
        if let directory {
            guard FileManager.default.isExecutableFile(atPath: program) else {
                throw LaunchError(description: "\(program) is missing; run `make test`, which builds and installs it")
            }
            programArguments = ["-C", directory.path, program] + arguments
            program = "/usr/bin/env"
        }
        let child = try Subprocess(
            program, programArguments, environment: environment,
            standardInput: .null, standardOutput: .file(outputPath), standardError: .file(errorPath))
        let status = child.waitBlocking()
        return Result(
            status: status,
            standardOutput: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
    }
}
