import Foundation
import Synchronization

/// A `vanectl dev-kafka` subprocess for integration tests.
///
/// Starts the development broker with `--control-stdin`, reads its bootstrap servers from the
/// first stdout line, sends control commands over stdin (each answered by one stdout line), and
/// stops it with SIGTERM:
///
/// ```swift
/// try await DevKafka.with(brokers: 3) { kafka in
///     let producer = try KafkaProducer(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: logger)
///     try await kafka.brokerDown(.all)
///     ...
/// }
/// ```
///
/// The `vanectl` binary is taken from `VANECTL_PATH`, else from the directory of the test runner
/// (`.build/debug` under `swift test`, which builds all products), else from the package's
/// `.build/debug`.
public final class DevKafka: Sendable {
    /// A broker selector for control commands.
    public enum Broker: Sendable, CustomStringConvertible {
        /// Every broker.
        case all
        /// One broker by id (1...N).
        case id(Int)

        /// A short human-readable form.

        public var description: String {
            switch self {
            case .all: "all"
            case .id(let id): "\(id)"
            }
        }
    }

    /// A control command the broker rejected.
    public struct ControlError: Error, CustomStringConvertible {
        /// The command that was sent.
        public let command: String
        /// The broker's reply line.
        public let reply: String
        /// A short human-readable form.
        public var description: String { "dev-kafka rejected `\(self.command)`: \(self.reply)" }
    }

    /// Startup or protocol failures of the subprocess.
    public struct ProcessError: Error, CustomStringConvertible {
        /// What went wrong.
        public let description: String
    }

    /// The cluster's `bootstrap.servers` string.
    public let bootstrapServers: String

    private let process: ProcessBox
    private let stdin: PipeEnd
    private let lines: LineReader
    private let commandGate = AsyncGate()

    /// The broker's standard error (banner, librdkafka mock-cluster logs).
    public let logFile: URL

    private init(process: ProcessBox, stdin: PipeEnd, lines: LineReader, bootstrapServers: String, logFile: URL) {
        self.process = process
        self.stdin = stdin
        self.lines = lines
        self.bootstrapServers = bootstrapServers
        self.logFile = logFile
    }

    /// The last lines of the broker's standard error.
    public func logTail(lines: Int = 40) -> String { LogTail.of(self.logFile, lines: lines) }

    deinit {
        // A forgotten stop() must not leave a broker running after the test: EOF on its stdin
        // deliberately does not stop it.
        self.process.terminate()
    }

    /// Starts a broker, runs `body`, and stops the broker whatever happens.
    public static func with<T>(
        brokers: Int = 3, topics: [String] = [], arguments: [String] = [],
        _ body: (DevKafka) async throws -> T
    ) async throws -> T {
        let kafka = try await DevKafka.start(brokers: brokers, topics: topics, arguments: arguments)
        do {
            let result = try await body(kafka)
            _ = await kafka.stop()
            return result
        } catch {
            _ = await kafka.stop()
            throw error
        }
    }

    /// Starts `vanectl dev-kafka --control-stdin` and waits for its bootstrap line.
    ///
    /// - Parameter launcher: a command that runs vanectl, e.g. `["/usr/sbin/ip", "netns", "exec", "ns1"]`
    ///   to start the broker in a network namespace (``TLSDevKafka``).
    public static func start(
        brokers: Int = 3, topics: [String] = [], arguments: [String] = [], startupTimeout: Duration = .seconds(20),
        launcher: [String] = []
    ) async throws -> DevKafka {
        var processArguments = ["dev-kafka", "--brokers", "\(brokers)", "--control-stdin"]
        for topic in topics { processArguments += ["--topic", topic] }
        // stderr goes to a file, not the runner's own: a broker outliving a crashed runner must not
        // hold `swift test`'s output pipe open.
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("vane-dev-kafka-\(UUID().uuidString.prefix(8)).log")
        let command = launcher + [try self.vanectlURL().path] + processArguments + arguments
        let process = try Subprocess(
            command[0], Array(command.dropFirst()), standardInput: .pipe, standardOutput: .pipe,
            standardError: .file(logFile.path))
        let lines = LineReader()
        let output = process.standardOutput!
        // A plain thread: blocking reads must not occupy the cooperative pool.
        Thread.detachNewThread {
            while true {
                let bytes = output.read()
                if bytes.isEmpty { break }
                lines.feed(bytes)
            }
            lines.finish()
        }
        let box = ProcessBox(process)
        guard let bootstrap = try await lines.nextLine(timeout: startupTimeout), !bootstrap.isEmpty else {
            box.terminate()
            throw ProcessError(description: "vanectl dev-kafka printed no bootstrap servers:\n\(LogTail.of(logFile, lines: 40))")
        }
        return DevKafka(
            process: box, stdin: process.standardInput!, lines: lines, bootstrapServers: bootstrap, logFile: logFile)
    }

    /// Sends one control command and returns its reply line.
    ///
    /// - Throws: ``ControlError`` when the reply is not `ok`.
    @discardableResult
    public func control(_ command: String, timeout: Duration = .seconds(10)) async throws -> String {
        // One command at a time: replies are matched to commands by order.
        await self.commandGate.lock()
        defer { self.commandGate.unlock() }
        try self.stdin.write(Array((command + "\n").utf8))
        guard let reply = try await self.lines.nextLine(timeout: timeout) else {
            throw ProcessError(description: "vanectl dev-kafka closed its output")
        }
        guard reply == "ok" else { throw ControlError(command: command, reply: reply) }
        return reply
    }

    /// Disconnects broker(s) and makes them refuse connections.
    public func brokerDown(_ broker: Broker) async throws {
        try await self.control("broker-down \(broker)")
    }

    /// Lets broker(s) accept connections again.
    public func brokerUp(_ broker: Broker) async throws {
        try await self.control("broker-up \(broker)")
    }

    /// Makes the next requests of a type fail with the named errors (librdkafka names, e.g.
    /// `NOT_LEADER_FOR_PARTITION`).
    public func pushErrors(apiKey: Int, _ errors: [String]) async throws {
        try await self.control("push-errors \(apiKey) \(errors.joined(separator: " "))")
    }

    /// Creates a topic with a given partition count.
    public func createTopic(_ name: String, partitions: Int) async throws {
        try await self.control("topic-create \(name) \(partitions)")
    }

    /// Moves a partition's leader.
    public func setLeader(topic: String, partition: Int, broker: Int) async throws {
        try await self.control("set-leader \(topic) \(partition) \(broker)")
    }

    /// Stops the broker with SIGTERM and returns its exit status (0 for a clean stop).
    @discardableResult
    public func stop() async -> Int32 {
        self.stdin.close()
        let outcome = await self.process.stop()
        if outcome.forced {
            ForcedStop.report("vanectl dev-kafka", pid: self.process.pid, logFile: self.logFile, gracePeriod: ProcessBox.stopGracePeriod)
        }
        return outcome.status
    }

    static func vanectlURL() throws -> URL {
        let url = RepositoryPaths.executable("vanectl")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ProcessError(description: "vanectl not found at \(url.path); build it with `swift build` or set VANECTL_PATH")
        }
        return url
    }

}

/// The broker subprocess, terminated with SIGTERM.
private final class ProcessBox: Sendable {
    private let process: Subprocess

    init(_ process: Subprocess) {
        self.process = process
    }

    func terminate() {
        process.signal(SIGTERM)
    }

    /// dev-kafka stops its mock cluster within 5 s of SIGTERM.
    static let stopGracePeriod: Duration = .seconds(30)

    var pid: Int32 { process.pid }

    func stop() async -> Subprocess.StopOutcome {
        await process.stop(gracePeriod: Self.stopGracePeriod)
    }
}

/// A FIFO lock usable across suspension points.
private final class AsyncGate: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func lock() async {
        await withCheckedContinuation { continuation in
            let acquired = self.state.withLock { state in
                if !state.locked {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    func unlock() {
        let next = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Splits the subprocess's stdout into lines and hands them out in order.
final class LineReader: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var lines: [String] = []
        var waiter: CheckedContinuation<String?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    func feed(_ data: [UInt8]) {
        let resume: (CheckedContinuation<String?, Never>, String)? = self.state.withLock { state in
            for byte in data {
                if byte == UInt8(ascii: "\n") {
                    state.lines.append(String(decoding: state.pending, as: UTF8.self))
                    state.pending.removeAll()
                } else {
                    state.pending.append(byte)
                }
            }
            guard let waiter = state.waiter, !state.lines.isEmpty else { return nil }
            state.waiter = nil
            return (waiter, state.lines.removeFirst())
        }
        if let (waiter, line) = resume { waiter.resume(returning: line) }
    }

    func finish() {
        let waiter = self.state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next line, `nil` at end of output or after `timeout`.
    func nextLine(timeout: Duration) async throws -> String? {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { await self.nextLine() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DevKafka.ProcessError(description: "no output from vanectl dev-kafka within \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func nextLine() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: String?? = self.state.withLock { state in
                    if !state.lines.isEmpty { return .some(state.lines.removeFirst()) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
