import Foundation
import KafkaKit
import Logging
import Synchronization

/// Producer/consumer throughput probe against a running broker (normally `vanectl dev-kafka`).
///
/// Usage:
///   KafkaThroughput produce <bootstrap> <topic> <file>          one message per line of <file>,
///                                                               sent with the batch API
///   KafkaThroughput produce-single <bootstrap> <topic> <file> <concurrency>
///                                                               same, one `send` per message from
///                                                               <concurrency> tasks
///   KafkaThroughput latency <bootstrap> <topic> <count>        sequential sends, linger.ms=0
///   KafkaThroughput consume <bootstrap> <topic> <batch-size>   read the topic to its end
///
/// Prints one `key=value` line per result for the driver script (Benchmarks/kafka-throughput.sh).
///
/// Tuning knobs (environment): KT_BATCH (records per batch send, default 10000), KT_INFLIGHT
/// (batches in flight, default 8), KT_PROPS (extra librdkafka properties, `k=v;k=v`).
@main
struct KafkaThroughput {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 4 else {
            FileHandle.standardError.write(Data(
                "usage: KafkaThroughput produce|produce-single|latency|consume <bootstrap> <topic> ...\n".utf8))
            exit(2)
        }
        var logger = Logger(label: "kafka-throughput") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        let bootstrap = arguments[2]
        let topic = arguments[3]
        switch arguments[1] {
        case "produce":
            try await produce(bootstrap: bootstrap, topic: topic, file: arguments[4], concurrency: nil, logger: logger)
        case "produce-single":
            try await produce(bootstrap: bootstrap, topic: topic, file: arguments[4], concurrency: Int(arguments[5])!, logger: logger)
        case "latency":
            try await latency(bootstrap: bootstrap, topic: topic, count: Int(arguments[4])!, logger: logger)
        case "consume":
            try await consume(bootstrap: bootstrap, topic: topic, batchSize: Int(arguments[4])!, logger: logger)
        default:
            exit(2)
        }
    }

    /// Streams the file like `kcat -P -l` does: lines are read in 1 MiB chunks and sent in batches
    /// of 10,000 records with up to 8 batches in flight, so reading overlaps with producing and
    /// memory stays bounded.
    static func produce(bootstrap: String, topic: String, file: String, concurrency: Int?, logger: Logger) async throws {
        // Same settings as the kcat run: acks=all, idempotence, librdkafka's default batching.
        var configuration = KafkaProducerConfiguration(bootstrapServers: [bootstrap])
        configuration.isIdempotent = true
        configuration.acknowledgements = .all
        for pair in (ProcessInfo.processInfo.environment["KT_PROPS"] ?? "").split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            configuration.additionalProperties[parts[0]] = parts[1]
        }
        var logger = logger
        if ProcessInfo.processInfo.environment["KT_PROPS"]?.contains("debug") == true { logger.logLevel = .debug }
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        var messages = 0
        var bytes = 0
        var failures = 0

        if let concurrency {
            // One `send` per record from `concurrency` tasks: the cost of a task hop and a
            // continuation per message.
            let records = try readLines(file).map { KafkaRecord(topic: topic, key: nil, value: $0) }
            messages = records.count
            bytes = records.reduce(0) { $0 + ($1.value?.count ?? 0) }
            let next = Counter()
            failures = await withTaskGroup(of: Int.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var failed = 0
                        while let index = next.take(below: records.count) {
                            do { try await producer.send(records[index]) } catch { failed += 1 }
                        }
                        return failed
                    }
                }
                return await group.reduce(0, +)
            }
        } else {
            let batchSize = Int(ProcessInfo.processInfo.environment["KT_BATCH"] ?? "10000")!
            let maximumInFlight = Int(ProcessInfo.processInfo.environment["KT_INFLIGHT"] ?? "8")!
            let reader = try LineFileReader(path: file)
            failures = try await withThrowingTaskGroup(of: Int.self) { group in
                var inFlight = 0
                var failed = 0
                while let lines = try reader.nextLines(maximum: batchSize) {
                    let records = lines.map { KafkaRecord(topic: topic, key: nil, value: $0) }
                    messages += records.count
                    bytes += lines.reduce(0) { $0 + $1.count }
                    if inFlight == maximumInFlight {
                        failed += try await group.next()!
                        inFlight -= 1
                    }
                    group.addTask {
                        await producer.send(records).reduce(0) { count, result in
                            if case .failure = result { return count + 1 }
                            return count
                        }
                    }
                    inFlight += 1
                }
                for try await batchFailures in group { failed += batchFailures }
                return failed
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("messages=\(messages) bytes=\(bytes) failures=\(failures) seconds=\(seconds)")
        print("msgs_per_s=\(Int(Double(messages) / seconds)) mb_per_s=\(Double(bytes) / seconds / 1e6)")
    }

    static func latency(bootstrap: String, topic: String, count: Int, logger: Logger) async throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: [bootstrap])
        configuration.linger = .zero
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        try await producer.send(topic: topic, value: Array("warm-up".utf8))
        let clock = ContinuousClock()
        var samples: [Duration] = []
        for index in 0..<count {
            let start = clock.now
            try await producer.send(topic: topic, value: Array("latency-\(index)".utf8))
            samples.append(clock.now - start)
        }
        samples.sort()
        func micros(_ duration: Duration) -> Int {
            Int(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
        }
        print("count=\(count) p50_us=\(micros(samples[count / 2])) p99_us=\(micros(samples[count * 99 / 100]))"
            + " max_us=\(micros(samples[count - 1]))")
    }

    static func consume(bootstrap: String, topic: String, batchSize: Int, logger: Logger) async throws {
        var configuration = KafkaTopicReaderConfiguration(bootstrapServers: [bootstrap], topic: topic)
        configuration.pollBatchSize = batchSize
        let reader = try KafkaTopicReader(configuration: configuration, logger: logger)
        var catchUp = try await reader.start()
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        var bytes = 0
        if !catchUp.isCaughtUp {
            for try await message in reader.messages {
                count += 1
                bytes += message.value?.count ?? 0
                if catchUp.observe(message) { break }
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try await reader.close()
        print("batch=\(batchSize) messages=\(count) seconds=\(seconds) msgs_per_s=\(Int(Double(count) / seconds))"
            + " mb_per_s=\(Double(bytes) / seconds / 1e6)")
    }
}

/// The file's lines as byte arrays (Foundation's `Data.split` is far slower for 10^5 lines).
func readLines(_ path: String) throws -> [[UInt8]] {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    var lines: [[UInt8]] = []
    bytes.withUnsafeBufferPointer { buffer in
        var start = 0
        for index in 0..<buffer.count where buffer[index] == UInt8(ascii: "\n") {
            if index > start { lines.append(Array(buffer[start..<index])) }
            start = index + 1
        }
        if start < buffer.count { lines.append(Array(buffer[start...])) }
    }
    return lines
}

/// Reads a file's lines from a read-only memory map, so the only copy per line is the
/// `[UInt8]` a `KafkaRecord` needs (kcat's `getdelim` makes one copy per line too).
final class LineFileReader {
    private let base: UnsafeRawPointer
    private let size: Int
    private var position = 0

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw CocoaError(.fileNoSuchFile) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw CocoaError(.fileReadUnknown) }
        self.size = Int(info.st_size)
        guard self.size > 0, let mapped = mmap(nil, self.size, PROT_READ, MAP_PRIVATE, descriptor, 0),
            mapped != MAP_FAILED
        else { throw CocoaError(.fileReadUnknown) }
        madvise(mapped, self.size, MADV_SEQUENTIAL)
        self.base = UnsafeRawPointer(mapped)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: self.base), self.size) }

    func nextLines(maximum: Int) throws -> [[UInt8]]? {
        var lines: [[UInt8]] = []
        lines.reserveCapacity(maximum)
        while lines.count < maximum, self.position < self.size {
            let start = self.base + self.position
            let remaining = self.size - self.position
            let end = memchr(start, Int32(UInt8(ascii: "\n")), remaining).map { UnsafeRawPointer($0) - start } ?? remaining
            if end > 0 {
                lines.append(Array(UnsafeRawBufferPointer(start: start, count: end)))
            }
            self.position += end + 1
        }
        return lines.isEmpty ? nil : lines
    }
}

/// Hands out indexes to concurrent senders.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    func take(below limit: Int) -> Int? {
        let index = self.value.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < limit ? index : nil
    }
}

