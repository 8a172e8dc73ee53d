import ArgumentParser
import Dispatch
import KafkaKit
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vanectl dev-kafka`: an in-memory Kafka cluster for development and tests.
struct DevKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-kafka",
        abstract: "Run an in-memory development Kafka cluster (librdkafka's mock cluster).",
        discussion: """
            Prints the bootstrap servers as the first line of standard output, then serves until \
            SIGINT or SIGTERM and exits 0. All data lives in memory and is lost on exit: this is \
            a development broker, not for production.

            Each broker listens on an ephemeral 127.0.0.1 port; librdkafka 2.0.2's mock API \
            cannot pin ports. Topics are auto-created on first use with 4 partitions (fixed by \
            librdkafka); use --topic NAME:PARTITIONS for other counts. The mock cluster has no \
            admin API (CreateTopics) and no controller, keeps only about the newest 5 MiB per \
            partition, and does not compact.

            With --control-stdin, each line on standard input is a command, answered on standard \
            output with "ok" or "error: <reason>":
              broker-down <id|all>             disconnect broker(s), refuse connections
              broker-up <id|all>               accept connections again
              push-errors <apiKey> <ERR>...    fail the next requests of that type
                                               (e.g. push-errors 0 REQUEST_TIMED_OUT)
              clear-errors <apiKey>            drop unused pushed errors
              topic-create <name> <partitions> [replication]
              set-leader <topic> <partition> <broker|-1>
              rtt <id|all> <milliseconds>      delay broker responses
              ping                             answers ok
            End of input does not stop the cluster.
            """)

    @Option(help: "Number of brokers (ids 1...N). Three lets leaders and replicas spread like in production.")
    var brokers: Int = 3

    @Option(
        name: .customLong("topic"),
        help: ArgumentHelp("Create a topic at start (repeatable).", valueName: "name[:partitions]"))
    var topics: [String] = []

    @Option(help: "Partition count for --topic entries given without one.")
    var partitions: Int = 4

    @Flag(help: "Read control commands from standard input (for tests).")
    var controlStdin = false

    @Flag(help: "Log librdkafka's mock-cluster notices and debug lines, not only errors.")
    var verbose = false

    func validate() throws {
        guard self.brokers >= 1 else { throw ValidationError("--brokers must be at least 1") }
        guard self.partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
        for topic in self.topics { _ = try Self.parseTopic(topic, defaultPartitions: self.partitions) }
    }

    func run() async throws {
        var logger = Logger(label: "vanectl.dev-kafka") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = self.verbose ? .debug : .notice

        let cluster = try KafkaDevelopmentCluster(brokers: self.brokers, logger: logger)
        for topic in self.topics {
            let (name, partitions) = try Self.parseTopic(topic, defaultPartitions: self.partitions)
            try cluster.createTopic(name, partitions: partitions)
        }

        // The first stdout line is the contract with scripts and TestSupport: the bootstrap list.
        StandardOutput.writeLine(cluster.bootstrapServers)
        StandardError.writeLine(
            """
            vanectl dev-kafka: in-memory development Kafka cluster (librdkafka mock, \(self.brokers) \
            broker\(self.brokers == 1 ? "" : "s")) at \(cluster.bootstrapServers)
            vanectl dev-kafka: all data is kept in memory and LOST on exit; this is not a production broker.
            vanectl dev-kafka: stop with Ctrl-C or SIGTERM.
            """)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: cluster)]
        if self.controlStdin {
            services.append(.init(service: DevKafkaControlService(cluster: cluster, logger: logger)))
        }
        var configuration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = Duration.seconds(5)
        try await ServiceGroup(configuration: configuration).run()
    }

    static func parseTopic(_ text: String, defaultPartitions: Int) throws -> (String, Int) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let name = parts.first, !name.isEmpty else { throw ValidationError("invalid --topic \(text)") }
        guard parts.count == 2 else { return (String(name), defaultPartitions) }
        guard let count = Int(parts[1]), count >= 1 else {
            throw ValidationError("invalid partition count in --topic \(text)")
        }
        return (String(name), count)
    }
}

/// Unbuffered line writes: stdout is usually a pipe to a test harness, which must see each
/// line at once (Swift's `print` would buffer it).
enum StandardOutput {
    static func writeLine(_ line: String) {
        FileDescriptorWriter.write(line + "\n", to: STDOUT_FILENO)
    }
}

enum StandardError {
    static func writeLine(_ line: String) {
        FileDescriptorWriter.write(line + "\n", to: STDERR_FILENO)
    }
}

enum FileDescriptorWriter {
    static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
