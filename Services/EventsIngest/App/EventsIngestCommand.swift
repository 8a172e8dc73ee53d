import ArgumentParser
import Foundation
import Logging
import ServiceKit

/// `events-ingest`: accepts LaunchDarkly SDK event batches and writes each to Kafka.
@main
struct EventsIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events-ingest",
        abstract: "Vane's events-ingest: LaunchDarkly SDK event batches to the vane.events.raw Kafka topic.",
        discussion: """
            Configured through environment variables (defaults in brackets):
              VANE_KAFKA_BROKERS                   bootstrap servers, host:port[,...] (required)
              VANE_CONFIG_TOPIC                    [vane.config] environments and key hashes are read from it
              VANE_EVENTS_TOPIC                    [vane.events.raw] where batches are written
              VANE_HTTP_HOST / VANE_HTTP_PORT      [0.0.0.0 / 8040]
              VANE_HTTP_IDLE_TIMEOUT_SECONDS       [60] idle keep-alive connections are closed
              VANE_HTTP_MAX_CONNECTIONS            [10000] connections served at once
              VANE_EVENTS_MAX_BODY_BYTES           [5242880] largest body, as sent and decompressed (413 above)
              VANE_EVENTS_MAX_IN_FLIGHT_BATCHES    [4096] batches awaiting Kafka before 503
              VANE_EVENTS_MAX_IN_FLIGHT_BYTES      [268435456] bytes awaiting Kafka before 503
              VANE_EVENTS_RATE_LIMIT_PER_SECOND    [0 = off] batches per second per environment (429 above)
              VANE_EVENTS_RATE_LIMIT_BURST         [2 x rate] batches allowed at once
              VANE_EVENTS_DEDUPE_CAPACITY          [100000] payload ids remembered (0 = off)
              VANE_EVENTS_DEDUPE_WINDOW_SECONDS    [600] how long they are remembered
              VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS   [10] longest wait for Kafka's acknowledgement (then 503)
              VANE_KAFKA_LINGER_MS                 [2] producer batching delay
              VANE_KAFKA_COMPRESSION               [none] none, gzip, snappy, lz4 or zstd
              VANE_LOG_LEVEL                       [info]
            """)

    func run() async throws {
        let settings: IngestSettings
        do {
            settings = try IngestSettings(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("events-ingest: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        let logger = ServiceLogging.makeLogger(label: "events-ingest", level: settings.logLevel)
        logger.info("starting events-ingest", metadata: settings.logMetadata)
        let application = IngestApplication(settings: settings, logger: logger)
        try await ServiceRunner.run(
            try application.makeServices(), gracefulShutdownTimeout: application.gracefulShutdownTimeout, logger: logger)
    }
}
