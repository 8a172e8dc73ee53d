import KafkaKit
import Logging
import ServiceKit

/// events-ingest's configuration, from the environment (documented in the README and `--help`).
struct IngestSettings: Sendable {
    var http: HTTPSettings
    /// Idle keep-alive connections (and slow uploads) are closed after this long.
    var idleTimeout: Duration
    /// Connections served at once; more wait in the listen backlog.
    var maximumConnections: Int
    var kafka: KafkaSettings
    var configTopic: String
    var eventsTopic: String
    /// Largest body accepted, as sent and after gzip decompression.
    var maximumBodyBytes: Int
    /// Batches held between reading and Kafka's acknowledgement, by count and by bytes.
    var maximumInFlightBatches: Int
    var maximumInFlightBytes: Int
    /// Per-environment limit in batches per second; nil when off.
    var rateLimit: Double?
    var rateLimitBurst: Int
    /// Remembered payload ids (0 disables in-process deduplication) and for how long.
    var dedupeCapacity: Int
    var dedupeWindow: Duration
    /// Longest a batch waits for Kafka's acknowledgement before the request is answered 503.
    var kafkaMessageTimeout: Duration
    var kafkaLinger: Duration
    var kafkaCompression: KafkaProducerConfiguration.Compression
    var logLevel: Logger.Level

    init(environment variables: [String: String]) throws {
        var environment = ServiceEnvironment(variables)
        http = HTTPSettings(from: &environment, defaultPort: 8040)
        idleTimeout = environment.seconds("VANE_HTTP_IDLE_TIMEOUT_SECONDS", default: .seconds(60))
        maximumConnections = environment.integer("VANE_HTTP_MAX_CONNECTIONS", default: 10_000, range: 1...1_000_000)
        kafka = environment.kafkaSettings()
        configTopic = environment.string("VANE_CONFIG_TOPIC", default: "vane.config")
        eventsTopic = environment.string("VANE_EVENTS_TOPIC", default: "vane.events.raw")
        maximumBodyBytes = environment.integer("VANE_EVENTS_MAX_BODY_BYTES", default: 5 << 20, range: 1024...(1 << 30))
        maximumInFlightBatches = environment.integer("VANE_EVENTS_MAX_IN_FLIGHT_BATCHES", default: 4096, range: 1...1_000_000)
        maximumInFlightBytes = environment.integer("VANE_EVENTS_MAX_IN_FLIGHT_BYTES", default: 256 << 20, range: 1 << 20...(1 << 40))
        let rate = environment.integer("VANE_EVENTS_RATE_LIMIT_PER_SECOND", default: 0, range: 0...1_000_000)
        rateLimit = rate > 0 ? Double(rate) : nil
        rateLimitBurst = environment.integer("VANE_EVENTS_RATE_LIMIT_BURST", default: max(1, rate * 2), range: 1...10_000_000)
        dedupeCapacity = environment.integer("VANE_EVENTS_DEDUPE_CAPACITY", default: 100_000, range: 0...10_000_000)
        dedupeWindow = environment.seconds("VANE_EVENTS_DEDUPE_WINDOW_SECONDS", default: .seconds(600))
        kafkaMessageTimeout = environment.seconds("VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS", default: .seconds(10))
        // 2 ms rather than librdkafka's 5: measured on the development broker, it halves the median
        // latency at 100,000 events/s and still batches the records of concurrent requests.
        kafkaLinger = .milliseconds(environment.integer("VANE_KAFKA_LINGER_MS", default: 2, range: 0...1000))
        let compression = environment.string("VANE_KAFKA_COMPRESSION", default: "none")
        kafkaCompression = KafkaProducerConfiguration.Compression(rawValue: compression) ?? .none
        if KafkaProducerConfiguration.Compression(rawValue: compression) == nil {
            environment.report("VANE_KAFKA_COMPRESSION", "must be one of none, gzip, snappy, lz4, zstd")
        }
        if kafkaMessageTimeout < .milliseconds(100) {
            environment.report("VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS", "must be at least 0.1")
        }
        if maximumInFlightBytes < maximumBodyBytes {
            environment.report("VANE_EVENTS_MAX_IN_FLIGHT_BYTES", "must be at least VANE_EVENTS_MAX_BODY_BYTES (\(maximumBodyBytes))")
        }
        logLevel = environment.logLevel()
        try environment.validate()
    }

    /// The effective configuration, for the start-up log.
    var logMetadata: Logger.Metadata {
        [
            "http": "\(http)", "kafka": "\(kafka)", "configTopic": "\(configTopic)",
            "eventsTopic": "\(eventsTopic)", "maxBodyBytes": "\(maximumBodyBytes)",
            "maxInFlight": "\(maximumInFlightBatches) batches / \(maximumInFlightBytes) bytes",
            "rateLimit": "\(rateLimit.map { "\(Int($0))/s burst \(rateLimitBurst)" } ?? "off")",
            "dedupe": "\(dedupeCapacity == 0 ? "off" : "\(dedupeCapacity) ids for \(dedupeWindow)")",
            "kafkaMessageTimeout": "\(kafkaMessageTimeout)", "kafkaLinger": "\(kafkaLinger)",
            "kafkaCompression": "\(kafkaCompression.rawValue)", "idleTimeout": "\(idleTimeout)",
            "maxConnections": "\(maximumConnections)", "logLevel": "\(logLevel)",
        ]
    }
}
