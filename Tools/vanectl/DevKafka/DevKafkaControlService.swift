import Foundation
import KafkaKit
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves `--control-stdin`: one command per input line, one `ok`/`error: ...` line per command.
struct DevKafkaControlService: Service {
    let cluster: KafkaDevelopmentCluster
    let logger: Logger

    func run() async throws {
        let lines = StandardInputLines()
        for await line in lines.stream.cancelOnGracefulShutdown() {
            let trimmed = line.trimmingWhitespace()
            guard !trimmed.isEmpty else { continue }
            let reply: String
            do {
                try self.execute(trimmed)
                reply = "ok"
            } catch {
                reply = "error: \(error)"
            }
            StandardOutput.writeLine(reply)
        }
        lines.cancel()
        // End of input is not a reason to stop the cluster; shutdown comes from a signal.
        try? await gracefulShutdown()
    }

    func execute(_ line: String) throws {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let arguments = Array(words.dropFirst())
        switch words[0] {
        case "ping":
            return
        case "broker-down":
            try self.cluster.setDown(try Self.broker(arguments, command: "broker-down <id|all>"))
        case "broker-up":
            try self.cluster.setUp(try Self.broker(arguments, command: "broker-up <id|all>"))
        case "push-errors":
            guard arguments.count >= 2, let apiKey = Int16(arguments[0]) else {
                throw ControlError("usage: push-errors <apiKey> <ERROR_NAME>...")
            }
            let codes = try arguments.dropFirst().map { name in
                guard let code = KafkaError.Code(name: name) else { throw ControlError("unknown error name \(name)") }
                return code
            }
            self.cluster.pushRequestErrors(apiKey: apiKey, errors: codes)
        case "clear-errors":
            guard arguments.count == 1, let apiKey = Int16(arguments[0]) else {
                throw ControlError("usage: clear-errors <apiKey>")
            }
            self.cluster.clearRequestErrors(apiKey: apiKey)
        case "topic-create":
            guard arguments.count == 2 || arguments.count == 3, let partitions = Int(arguments[1]) else {
                throw ControlError("usage: topic-create <name> <partitions> [replication]")
            }
            let replication = arguments.count == 3 ? Int(arguments[2]) : nil
            if arguments.count == 3 && replication == nil { throw ControlError("invalid replication factor") }
            try self.cluster.createTopic(arguments[0], partitions: partitions, replicationFactor: replication)
        case "set-leader":
            guard arguments.count == 3, let partition = Int32(arguments[1]), let broker = Int32(arguments[2]) else {
                throw ControlError("usage: set-leader <topic> <partition> <broker|-1>")
            }
            try self.cluster.setLeader(topic: arguments[0], partition: partition, broker: broker)
        case "rtt":
            guard arguments.count == 2, let milliseconds = Int(arguments[1]) else {
                throw ControlError("usage: rtt <id|all> <milliseconds>")
            }
            try self.cluster.setRoundTripTime(
                try Self.broker([arguments[0]], command: "rtt <id|all> <milliseconds>"), .milliseconds(milliseconds))
        default:
            throw ControlError("unknown command \(words[0])")
        }
        self.logger.info("control command applied", metadata: ["command": "\(line)"])
    }

    static func broker(_ arguments: [String], command: String) throws -> KafkaDevelopmentCluster.Broker {
        guard arguments.count == 1 else { throw ControlError("usage: \(command)") }
        if arguments[0] == "all" { return .all }
        guard let id = Int32(arguments[0]) else { throw ControlError("invalid broker \(arguments[0])") }
        return .id(id)
    }
}

struct ControlError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}

/// Lines from standard input as an `AsyncStream`, read by a dedicated thread with blocking
/// `read(2)`.
///
/// A dispatch read source on standard input crashed libdispatch's epoll loop
/// (`_dispatch_event_loop_drain`) when input ended while the process was being stopped; a thread
/// that blocks in `read` has no such interaction. It ends at end of input or with the process.
final class StandardInputLines: Sendable {
    let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        self.stream = stream
        self.continuation = continuation
        let thread = Thread {
            let splitter = LineSplitter()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                for line in splitter.feed(buffer[0..<count]) { continuation.yield(line) }
            }
            if let last = splitter.finish() { continuation.yield(last) }
            continuation.finish()
        }
        thread.name = "dev-kafka-stdin"
        thread.start()
    }

    func cancel() {
        continuation.finish()
    }
}

/// Splits bytes into lines. `@unchecked Sendable`: only touched by the reading thread.
private final class LineSplitter: @unchecked Sendable {
    private var pending: [UInt8] = []

    func feed(_ bytes: ArraySlice<UInt8>) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                lines.append(String(decoding: self.pending, as: UTF8.self))
                self.pending.removeAll(keepingCapacity: true)
            } else if byte != UInt8(ascii: "\r") {
                self.pending.append(byte)
            }
        }
        return lines
    }

    func finish() -> String? {
        defer { self.pending.removeAll() }
        return self.pending.isEmpty ? nil : String(decoding: self.pending, as: UTF8.self)
    }
}
