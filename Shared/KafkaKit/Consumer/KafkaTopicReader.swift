#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ServiceLifecycle
import Synchronization

/// Reads every partition of one topic without a consumer group.
///
/// For relays and caches that rebuild state from a (typically compacted) topic: no offsets are
/// committed, each instance reads everything from its ``KafkaTopicReaderConfiguration/startPosition``,
/// and ``start()`` reports the high watermarks that mark "caught up":
///
/// ```swift
/// let reader = try KafkaTopicReader(configuration: .init(bootstrapServers: brokers, topic: "flags"), logger: logger)
/// var catchUp = try await reader.start()
/// for try await message in reader.messages {
///     cache.apply(message)
///     if catchUp.observe(message) { readiness.markReady() }
/// }
/// ```
///
/// The partition set is read once, at start; partitions added to the topic later are not picked
/// up. As a `Service`, ``run()`` waits for graceful shutdown and then ends the message sequence.
public final class KafkaTopicReader: Service, Sendable {
    private let engine: ConsumerEngine
    private let client: RDKafkaClient
    private let configuration: KafkaTopicReaderConfiguration
    private let starter: ReaderStarter

    /// Creates a reader; it connects in the background and assigns partitions on ``start()`` or on
    /// the first read of ``messages``.
    public init(configuration: KafkaTopicReaderConfiguration, logger: Logger) throws(KafkaError) {
        var properties = configuration.librdkafkaProperties()
        if properties["group.id"] == nil {
            // librdkafka 2.0.2 refuses rd_kafka_assign without a group.id (_UNKNOWN_GROUP) even though
            // an assign-only consumer never joins the group. A unique id keeps readers independent;
            // nothing is ever committed under it.
            properties["group.id"] = "vane-reader-\(UInt64.random(in: 0...UInt64.max))"
        }
        let client = try RDKafkaClient(
            kind: .consumer, properties: properties, context: RDKafkaClientContext(logger: logger))
        let starter = ReaderStarter(client: client, configuration: configuration, logger: logger)
        self.client = client
        self.configuration = configuration
        self.starter = starter
        self.engine = ConsumerEngine(
            client: client, label: "reader.\(configuration.topic)", batchSize: configuration.pollBatchSize,
            pollTimeout: configuration.pollTimeout, recorder: nil, rebalanceHandler: nil,
            prepare: { engine async throws(KafkaError) in _ = try await starter.start(on: engine) })
    }

    /// The messages of all partitions. Iterate from one task at a time.
    public var messages: KafkaConsumerMessages {
        KafkaConsumerMessages(engine: self.engine)
    }

    /// Reads the topic's partitions and their watermarks, assigns every partition at the start
    /// position, and returns the catch-up targets (the high watermarks seen now). Idempotent: later
    /// calls return the first call's targets (with none observed yet).
    ///
    /// - Throws: ``KafkaError/Code/topicNotFound`` if the topic does not appear within
    ///   ``KafkaTopicReaderConfiguration/metadataTimeout``.
    @discardableResult
    public func start() async throws(KafkaError) -> KafkaCatchUpTracker {
        try await self.starter.start(on: self.engine)
    }

    /// The partitions' current high watermarks, queried now.
    public func highWatermarks() async throws(KafkaError) -> [Int32: Int64] {
        let client = self.client
        let topic = self.configuration.topic
        let timeout = self.configuration.metadataTimeout
        return try await BlockingCall.runCancellable { cancellation -> Result<[Int32: Int64], KafkaError> in
            Result { () throws(KafkaError) in
                let partitions = try ReaderStarter.partitionIDs(
                    client: client, topic: topic, timeout: timeout, cancellation: cancellation)
                var result: [Int32: Int64] = [:]
                for partition in partitions {
                    try cancellation.check("reading the watermarks of \(topic)")
                    result[partition] = try client.watermarksBlocking(topic: topic, partition: partition, timeout: timeout).high
                }
                return result
            }
        }.get()
    }

    /// The next offset the reader will return per assigned partition (`-1001` before the first
    /// message of a partition). Empty before ``start()``.
    public func positions() throws(KafkaError) -> [Int32: Int64] {
        guard let tracker = self.starter.tracker else { return [:] }
        let partitions = tracker.targets.keys.map { KafkaTopicPartition(topic: self.configuration.topic, partition: $0) }
        var result: [Int32: Int64] = [:]
        for (topicPartition, offset) in try self.client.positions(partitions) { result[topicPartition.partition] = offset }
        return result
    }

    /// Runs until graceful shutdown (or cancellation), then closes the reader.
    public func run() async throws {
        try? await gracefulShutdown()
        try await self.close()
    }

    /// Ends the message sequence and releases the partitions. Idempotent.
    public func close() async throws(KafkaError) {
        try await self.engine.close()
    }
}

/// Performs a reader's one-time start on its polling queue, so that it is serialized with polls
/// and with concurrent `start()` calls.
private final class ReaderStarter: Sendable {
    /// The longest single blocking metadata request while starting: how late a cancellation may be noticed.
    static let cancellationCheckInterval = Duration.milliseconds(500)

    let client: RDKafkaClient
    let configuration: KafkaTopicReaderConfiguration
    let logger: Logger
    private let started = Mutex<KafkaCatchUpTracker?>(nil)

    init(client: RDKafkaClient, configuration: KafkaTopicReaderConfiguration, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    var tracker: KafkaCatchUpTracker? {
        self.started.withLock { $0 }
    }

    func start(on engine: ConsumerEngine) async throws(KafkaError) -> KafkaCatchUpTracker {
        if let started = self.tracker { return started }
        let result = await engine.onPollQueueCancellable { cancellation -> Result<KafkaCatchUpTracker, KafkaError> in
            if let started = self.tracker { return .success(started) }
            return Result { () throws(KafkaError) in
                let tracker = try self.startBlocking(cancellation: cancellation)
                self.started.withLock { $0 = tracker }
                return tracker
            }
        }
        return try result.get()
    }

    private func startBlocking(cancellation: CancellationFlag) throws(KafkaError) -> KafkaCatchUpTracker {
        let topic = self.configuration.topic
        let timeout = self.configuration.metadataTimeout
        let partitions = try Self.partitionIDs(client: self.client, topic: topic, timeout: timeout, cancellation: cancellation)
        var targets: [Int32: Int64] = [:]
        var starts: [Int32: Int64] = [:]
        for partition in partitions {
            try cancellation.check("starting the reader of \(topic)")
            let (low, high) = try self.client.watermarksBlocking(topic: topic, partition: partition, timeout: timeout)
            targets[partition] = high
            let start: Int64 =
                switch self.configuration.startPosition {
                case .earliest: low
                case .latest: high
                case .offset(let offset): min(max(offset, low), high)
                case .offsets(let offsets): min(max(offsets[partition] ?? low, low), high)
                }
            starts[partition] = start
        }
        try self.client.assign(
            partitions.map { (KafkaTopicPartition(topic: topic, partition: $0), starts[$0]!) }, incremental: false)
        self.logger.info(
            "reader assigned", metadata: ["topic": "\(topic)", "start": "\(starts)", "highWatermarks": "\(targets)"])
        return KafkaCatchUpTracker(targets: targets, startOffsets: starts)
    }

    /// The topic's partition ids, retrying while the cluster does not know the topic yet. Each metadata request waits
    /// at most ``cancellationCheckInterval``, so a cancelled caller is answered within about that time.
    static func partitionIDs(
        client: RDKafkaClient, topic: String, timeout: Duration, cancellation: CancellationFlag
    ) throws(KafkaError) -> [Int32] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError: KafkaError?
        while clock.now < deadline {
            try cancellation.check("reading the partitions of \(topic)")
            do {
                let metadata = try client.metadataBlocking(
                    topic: topic, timeout: min(deadline - clock.now, Self.cancellationCheckInterval))
                if let entry = metadata.topics.first(where: { $0.name == topic }) {
                    if entry.error == nil, !entry.partitions.isEmpty { return entry.partitions.map(\.id) }
                    lastError = entry.error
                }
            } catch {
                lastError = error
            }
            // Blocking sleep: this runs on a polling or blocking queue, never on the cooperative pool.
            usleep(100_000)
        }
        throw KafkaError(
            code: .topicNotFound,
            message: "topic \(topic) not found within \(timeout)" + (lastError.map { ": \($0.message)" } ?? ""))
    }
}
