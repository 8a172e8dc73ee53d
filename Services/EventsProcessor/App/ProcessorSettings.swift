import PostgresSupport
import Logging
import ServiceKit

/// events-processor's configuration, from the environment (see the README section).
struct ProcessorSettings: Sendable {
    var http: HTTPSettings
    var database: DatabaseSettings
    var databaseMaxConnections: Int
    var kafka: KafkaSettings
    var eventsTopic: String
    var consumerGroup: String
    var kafkaSessionTimeout: Duration
    var correlationDelay: Duration
    var rawRetentionHours: Int
    var chunkMaxRecords: Int
    var chunkMaxBytes: Int
    var chunkMaxAge: Duration
    var finalizeInterval: Duration
    var finalizeBatchContexts: Int
    var pruneInterval: Duration
    var logLevel: Logger.Level

    init(environment variables: [String: String]) throws {
        var environment = ServiceEnvironment(variables)
        http = HTTPSettings(from: &environment, defaultPort: 8050)
        database = environment.databaseSettings()
        databaseMaxConnections = environment.integer("VANE_DATABASE_MAX_CONNECTIONS", default: 4, range: 2...100)
        kafka = environment.kafkaSettings()
        eventsTopic = environment.string("VANE_EVENTS_TOPIC", default: "vane.events.raw")
        consumerGroup = environment.string("VANE_CONSUMER_GROUP", default: "vane-events-processor")
        kafkaSessionTimeout = environment.seconds("VANE_KAFKA_SESSION_TIMEOUT_SECONDS", default: .seconds(10))
        if kafkaSessionTimeout < .seconds(1) { environment.report("VANE_KAFKA_SESSION_TIMEOUT_SECONDS", "must be at least 1") }
        correlationDelay = environment.seconds("VANE_CORRELATION_DELAY_SECONDS", default: .seconds(120))
        rawRetentionHours = environment.integer("VANE_RAW_RETENTION_HOURS", default: 168, range: 1...(24 * 366))
        chunkMaxRecords = environment.integer("VANE_CHUNK_MAX_RECORDS", default: 500, range: 1...100_000)
        chunkMaxBytes = environment.integer("VANE_CHUNK_MAX_BYTES", default: 16 << 20, range: 1024...(1 << 30))
        chunkMaxAge = environment.seconds("VANE_CHUNK_MAX_AGE_SECONDS", default: .milliseconds(500))
        finalizeInterval = environment.seconds("VANE_FINALIZE_INTERVAL_SECONDS", default: .seconds(1))
        if finalizeInterval < .milliseconds(50) { environment.report("VANE_FINALIZE_INTERVAL_SECONDS", "must be at least 0.05") }
        finalizeBatchContexts = environment.integer("VANE_FINALIZE_BATCH_CONTEXTS", default: 20000, range: 1...1_000_000)
        pruneInterval = environment.seconds("VANE_PRUNE_INTERVAL_SECONDS", default: .seconds(600))
        if pruneInterval < .seconds(1) { environment.report("VANE_PRUNE_INTERVAL_SECONDS", "must be at least 1") }
        logLevel = environment.logLevel()
        try environment.validate()
    }

    var delayMilliseconds: UnixMilliseconds { correlationDelay.wholeMilliseconds }
    var retentionMilliseconds: UnixMilliseconds { UnixMilliseconds(rawRetentionHours) * .millisecondsPerHour }

    /// The chunking loop's settings; `serving` enables the checks only a long-running consumer
    /// needs (idle epoch checks, pruning).
    func loopSettings(serving: Bool) -> LoopSettings {
        LoopSettings(
            chunkMaxRecords: chunkMaxRecords, chunkMaxBytes: chunkMaxBytes, chunkMaxAge: chunkMaxAge,
            finalizeInterval: finalizeInterval, finalizeBatchContexts: finalizeBatchContexts,
            epochCheckInterval: serving ? .seconds(2) : nil, pruneInterval: serving ? pruneInterval : nil)
    }

    /// The effective configuration, secrets left out, for the start-up log.
    var logMetadata: Logger.Metadata {
        [
            "http": "\(http)", "database": "\(database)", "kafka": "\(kafka)",
            "eventsTopic": "\(eventsTopic)", "consumerGroup": "\(consumerGroup)", "correlationDelay": "\(correlationDelay)",
            "rawRetentionHours": "\(rawRetentionHours)", "chunkMaxRecords": "\(chunkMaxRecords)", "chunkMaxAge": "\(chunkMaxAge)",
            "finalizeInterval": "\(finalizeInterval)", "logLevel": "\(logLevel)",
        ]
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
