import Logging
import ServiceKit

/// relay-streamer's configuration, from the environment. Every limit the relay enforces is here,
/// with its default, so that the README and the start-up log describe the same numbers.
struct RelaySettings: Sendable {
    var http: HTTPSettings
    var kafka: KafkaSettings
    var configTopic: String
    /// Interval of the SSE comment heartbeat sent to every stream (`VANE_RELAY_HEARTBEAT_SECONDS`).
    var heartbeatInterval: Duration
    /// Bytes a stream may have queued for its client before further events are dropped and replaced
    /// by a fresh `put` once it drains (`VANE_RELAY_STREAM_BUFFER_BYTES`).
    var streamBufferBytes: Int
    /// How long a stream may stay unable to take more bytes before it is closed
    /// (`VANE_RELAY_STREAM_STALL_SECONDS`).
    var streamStallTimeout: Duration
    /// Concurrent SSE streams this relay holds; more are answered 503 (`VANE_RELAY_MAX_STREAMS`).
    var maxStreams: Int
    /// TCP connections accepted at once; more wait in the listen backlog (`VANE_RELAY_MAX_CONNECTIONS`).
    var maxConnections: Int
    /// Full-payload builds (serializing an environment, evaluating all flags for a context) running at
    /// once; more are answered 503 with `Retry-After` (`VANE_RELAY_MAX_CONCURRENT_BUILDS`, 0 = no limit).
    var maxConcurrentBuilds: Int
    /// Seconds sent in `Retry-After` when a request is shed (`VANE_RELAY_RETRY_AFTER_SECONDS`).
    var retryAfterSeconds: Int
    /// Idle keep-alive connections are closed after this long (`VANE_HTTP_IDLE_TIMEOUT_SECONDS`).
    var idleTimeout: Duration
    /// Request bodies (REPORT contexts, OFREP requests) are limited to this many bytes.
    var maxBodyBytes: Int
    /// How often the changelog lag metric is refreshed (`VANE_RELAY_LAG_INTERVAL_SECONDS`).
    var lagInterval: Duration
    var logLevel: Logger.Level

    init(environment variables: [String: String]) throws {
        var environment = ServiceEnvironment(variables)
        http = HTTPSettings(from: &environment, defaultPort: 8030)
        kafka = environment.kafkaSettings()
        configTopic = environment.string("VANE_CONFIG_TOPIC", default: "vane.config")
        heartbeatInterval = environment.seconds("VANE_RELAY_HEARTBEAT_SECONDS", default: .seconds(30))
        if heartbeatInterval < .milliseconds(100) || heartbeatInterval > .seconds(240) {
            environment.report("VANE_RELAY_HEARTBEAT_SECONDS", "must be within 0.1...240 (the Python SDK drops a stream silent for 300 s)")
        }
        streamBufferBytes = environment.integer("VANE_RELAY_STREAM_BUFFER_BYTES", default: 256 * 1024, range: 4096...(64 << 20))
        streamStallTimeout = environment.seconds("VANE_RELAY_STREAM_STALL_SECONDS", default: .seconds(120))
        maxStreams = environment.integer("VANE_RELAY_MAX_STREAMS", default: 100_000, range: 1...10_000_000)
        maxConnections = environment.integer("VANE_RELAY_MAX_CONNECTIONS", default: 110_000, range: 1...10_000_000)
        maxConcurrentBuilds = environment.integer("VANE_RELAY_MAX_CONCURRENT_BUILDS", default: 64, range: 0...100_000)
        retryAfterSeconds = environment.integer("VANE_RELAY_RETRY_AFTER_SECONDS", default: 2, range: 1...3600)
        idleTimeout = environment.seconds("VANE_HTTP_IDLE_TIMEOUT_SECONDS", default: .seconds(75))
        maxBodyBytes = environment.integer("VANE_RELAY_MAX_BODY_BYTES", default: 64 * 1024, range: 1024...(16 << 20))
        lagInterval = environment.seconds("VANE_RELAY_LAG_INTERVAL_SECONDS", default: .seconds(5))
        if lagInterval < .milliseconds(100) { environment.report("VANE_RELAY_LAG_INTERVAL_SECONDS", "must be at least 0.1") }
        logLevel = environment.logLevel()
        try environment.validate()
    }

    /// The effective configuration, for the start-up log.
    var logMetadata: Logger.Metadata {
        [
            "http": "\(http)", "kafka": "\(kafka)", "configTopic": "\(configTopic)",
            "heartbeat": "\(heartbeatInterval)", "streamBufferBytes": "\(streamBufferBytes)",
            "streamStallTimeout": "\(streamStallTimeout)", "maxStreams": "\(maxStreams)",
            "maxConnections": "\(maxConnections)", "maxConcurrentBuilds": "\(maxConcurrentBuilds)",
            "retryAfterSeconds": "\(retryAfterSeconds)", "idleTimeout": "\(idleTimeout)", "maxBodyBytes": "\(maxBodyBytes)",
            "logLevel": "\(logLevel)",
        ]
    }
}

extension String {
    /// The string without leading and trailing `character`s.
    func trimmingCharacters(of character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s.removeFirst() }
        while s.last == character { s.removeLast() }
        return String(s)
    }
}
