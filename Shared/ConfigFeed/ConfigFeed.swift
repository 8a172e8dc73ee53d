import KafkaKit
import Logging
import ModelsCore
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Receives `vane.config` records in topic order (per environment, the order they were committed).
public protocol ConfigRecordSink: Sendable {
    /// Applies one record. A record can arrive twice, or be older than what the sink holds (after a
    /// republish); sinks keep the highest version per item.
    func apply(_ record: ConfigRecord)
}

/// Reads `vane.config` from the earliest offset of every partition into a ``ConfigRecordSink``,
/// then follows it; ready once it has applied everything that existed when it started.
///
/// The data plane (relays, events-ingest) rebuilds its whole state this way, with no database: it
/// can start and serve while management-api and PostgreSQL are down, and keeps what it has while
/// Kafka is down.
public final class ConfigFeed: Service, Sendable {
    /// Whether the feed has caught up, and how far behind the head it is.
    public struct Status: Sendable {
        public var isCaughtUp = false
        public var recordsApplied = 0
        public var malformedRecords = 0
    }

    private let kafka: KafkaSettings
    private let topic: String
    private let maximumFetchWait: Duration
    private let sink: any ConfigRecordSink
    private let logger: Logger
    private let status = Mutex(Status())
    private let applied: Counter
    private let malformed: Counter
    private let caughtUp: Gauge
    private let lag: Gauge
    /// The reader while one is connected, for ``measureLag()``.
    private let reader = Mutex<KafkaTopicReader?>(nil)

    /// Creates a feed.
    ///
    /// - Parameter maximumFetchWait: how long the broker may hold a fetch that finds no new records
    ///   (`fetch.wait.max.ms`). A broker answers as soon as a record arrives, but librdkafka's
    ///   development cluster waits out the whole period, which then delays every change (a kill
    ///   switch) by up to this much; librdkafka's default is 500 ms. A `fetch.wait.max.ms` among the
    ///   operator's properties (`VANE_KAFKA_PROPERTY_fetch_wait_max_ms`) takes precedence.
    public init(
        kafka: KafkaSettings, topic: String, sink: any ConfigRecordSink, metrics: ServiceMetrics, logger: Logger,
        maximumFetchWait: Duration = .milliseconds(20)
    ) {
        self.kafka = kafka
        self.topic = topic
        self.maximumFetchWait = maximumFetchWait
        self.sink = sink
        self.logger = logger
        applied = metrics.counter("config_records_applied", help: "vane.config records applied.")
        malformed = metrics.counter("config_records_malformed", help: "vane.config records that could not be decoded (skipped).")
        caughtUp = metrics.gauge("config_caught_up", help: "1 once the config topic was read up to the high-water marks seen at start.")
        lag = metrics.gauge("config_lag", unit: "records", help: "Records of the config topic not yet applied (at the last measurement).")
    }

    /// A feed over plaintext connections to `brokers` (the development broker, tests).
    public convenience init(
        brokers: [String], topic: String, sink: any ConfigRecordSink, metrics: ServiceMetrics, logger: Logger,
        maximumFetchWait: Duration = .milliseconds(20)
    ) {
        self.init(
            kafka: KafkaSettings(brokers: brokers), topic: topic, sink: sink, metrics: metrics, logger: logger,
            maximumFetchWait: maximumFetchWait)
    }

    /// A snapshot of the feed's status.
    public var currentStatus: Status { status.withLock { $0 } }

    /// nil when caught up; else why not ready (for `/readyz`).
    public var notReadyReason: String? {
        currentStatus.isCaughtUp ? nil : "still reading the config topic \(topic)"
    }

    public func run() async throws {
        // The reader is recreated after failures (the topic missing at first, a broker restart):
        // state already applied stays, and records are version-guarded, so re-reading is harmless.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await follow()
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                break
            } catch {
                logger.warning("config feed interrupted; reconnecting", metadata: ["topic": "\(topic)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The changelog reader's settings: `kafka`'s, from the topic's start, and `maximumFetchWait` as
    /// `fetch.wait.max.ms`; the operator's own properties (VANE_KAFKA_PROPERTY_fetch_wait_max_ms) are applied last.
    static func readerConfiguration(kafka: KafkaSettings, topic: String, maximumFetchWait: Duration) -> KafkaTopicReaderConfiguration {
        var configuration = kafka.topicReader(clientID: "vane-config-feed", topic: topic, startPosition: .earliest)
        let fetchWait = maximumFetchWait.components
        configuration.additionalProperties["fetch.wait.max.ms"] = String(max(1,
            fetchWait.seconds * 1000 + fetchWait.attoseconds / 1_000_000_000_000_000))
        return configuration
    }

    private func follow() async throws {
        let configuration = Self.readerConfiguration(kafka: kafka, topic: topic, maximumFetchWait: maximumFetchWait)
        let reader = try KafkaTopicReader(configuration: configuration, logger: logger)
        self.reader.withLock { $0 = reader }
        defer { self.reader.withLock { $0 = nil } }
        var tracker = try await reader.start()
        if tracker.isCaughtUp { markCaughtUp() }
        for try await message in reader.messages.cancelOnGracefulShutdown() {
            if let value = message.value {
                do {
                    sink.apply(try ConfigRecord(json: try JSONParser.parse(value)))
                    applied.increment()
                    status.withLock { $0.recordsApplied += 1 }
                } catch {
                    malformed.increment()
                    status.withLock { $0.malformedRecords += 1 }
                    logger.error("skipping malformed config record", metadata: [
                        "partition": "\(message.partition)", "offset": "\(message.offset)", "error": "\(error)",
                    ])
                }
            }
            if tracker.observe(message) { markCaughtUp() }
        }
        try? await reader.close()
    }

    /// Measures how many records of the topic are not applied yet (summed over partitions: the
    /// high watermark now minus the reader's position), and publishes it as `vane_config_lag_records`.
    /// Nil while no reader is connected or the broker does not answer.
    @discardableResult
    public func measureLag() async -> Int? {
        guard let reader = reader.withLock({ $0 }),
            let ends = try? await reader.highWatermarks(),
            let positions = try? reader.positions()
        else { return nil }
        var total: Int64 = 0
        for (partition, end) in ends {
            // Before its first message a partition's position is a negative sentinel: nothing read yet.
            total += max(0, end - max(0, positions[partition] ?? 0))
        }
        lag.set(total)
        return Int(total)
    }

    private func markCaughtUp() {
        let first = status.withLock { status in
            defer { status.isCaughtUp = true }
            return !status.isCaughtUp
        }
        if first {
            caughtUp.set(1.0)
            logger.info("config topic caught up", metadata: ["topic": "\(topic)"])
        }
    }
}
