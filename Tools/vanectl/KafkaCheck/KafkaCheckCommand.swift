import ArgumentParser
import Foundation
import KafkaKit
import Logging
import ServiceKit

/// `vanectl kafka-check`: connects to Kafka with the services' settings and reports what it sees,
/// to check brokers, TLS and SASL before (or while) deploying.
struct KafkaCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-check",
        abstract: "Connect to Kafka with the services' VANE_KAFKA_* settings and list the topics.",
        discussion: """
            Reads VANE_KAFKA_BROKERS and the Kafka security settings (VANE_KAFKA_SECURITY_PROTOCOL, \
            VANE_KAFKA_SASL_*, VANE_KAFKA_SSL_*, VANE_KAFKA_PROPERTIES_FILE, VANE_KAFKA_PROPERTY_*) \
            exactly as the services do, prints the effective configuration with secrets redacted, \
            then asks the cluster for its topics (and, with --topic, one topic's partitions). \
            librdkafka's warnings (TLS handshake and authentication failures) go to standard error.

            Exit status: 0 connected, 1 the cluster could not be reached or refused the client, \
            78 a setting is missing or invalid.
            """)

    @Option(help: "Also describe this topic's partitions and offsets.")
    var topic: String?

    @Option(help: "Seconds to wait for the cluster's answer.")
    var timeout: Double = 15

    func run() async throws {
        var environment = ServiceEnvironment(ProcessInfo.processInfo.environment)
        let kafka = environment.kafkaSettings()
        do {
            try environment.validate()
        } catch {
            StandardError.writeLine("vanectl kafka-check: \(error)")
            throw ExitCode(78)  // EX_CONFIG, as the services
        }
        StandardError.writeLine("vanectl kafka-check: \(kafka)")
        let features = kafka.security.requiredFeatures.sorted().joined(separator: ",")
        StandardError.writeLine(
            "vanectl kafka-check: librdkafka features needed: \(features.isEmpty ? "none" : features); "
                + "built in: \(KafkaSecurity.builtinFeatures.sorted().joined(separator: ","))")

        var logger = Logger(label: "vanectl.kafka-check") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        var configuration = kafka.admin(clientID: "vanectl-kafka-check")
        configuration.requestTimeout = .milliseconds(Int64(max(1, timeout) * 1000))
        let admin: KafkaAdmin
        do {
            admin = try KafkaAdmin(configuration: configuration, logger: logger)
        } catch {
            StandardError.writeLine("vanectl kafka-check: \(error)")
            throw ExitCode(1)
        }
        // Closed before exiting either way: exiting while librdkafka's broker threads are in a TLS
        // handshake (a refused certificate is retried) crashed in OpenSSL's exit handler.
        let outcome: Result<Void, KafkaError>
        do {
            try await report(admin: admin, brokers: kafka.brokers)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await admin.close()
        if case .failure(let error) = outcome {
            StandardError.writeLine("vanectl kafka-check: \(error)")
            throw ExitCode(1)
        }
    }

    /// Lists the topics (and describes `topic`'s partitions) on standard output.
    private func report(admin: KafkaAdmin, brokers: [String]) async throws(KafkaError) {
        let topics = try await admin.listTopics()
        StandardOutput.writeLine("connected to \(brokers.joined(separator: ",")): \(topics.count) topics")
        for name in topics { StandardOutput.writeLine("topic \(name)") }
        guard let topic else { return }
        let description = try await admin.describeTopic(topic)
        for partition in description.partitions {
            StandardOutput.writeLine(
                "partition \(topic)/\(partition.id) leader \(partition.leader) replicas \(partition.replicas)"
                    + " offsets \(partition.lowWatermark)...\(partition.highWatermark)")
        }
    }
}
