import Logging
import ServiceLifecycle

/// A consumer-group member with manual offset commits and rebalance hooks.
///
/// ```swift
/// let consumer = try KafkaConsumer(configuration: .init(
///     bootstrapServers: brokers, groupID: "flag-indexer", topics: ["flag-changes"]), logger: logger)
/// // services: [consumer, indexer]; in indexer.run():
/// for try await message in consumer.messages {
///     try await apply(message)
///     try consumer.storeOffset(for: message)   // committed on revocation, on close, or by commit()
/// }
/// ```
///
/// Delivery is at-least-once: an offset is committed only for messages the application marked
/// with ``storeOffset(for:)`` or committed with ``commit(_:)-(KafkaConsumerMessage)``. Stored offsets
/// are committed synchronously when partitions are revoked and when the consumer closes, so the
/// next owner of a partition resumes right after the last processed message.
///
/// Rebalances are exposed through ``KafkaRebalanceHandler``; see there for starting at offsets
/// kept outside Kafka.
///
/// As a `Service`, ``run()`` waits for graceful shutdown and then closes the consumer: the message
/// sequence ends, stored offsets are committed, and the member leaves the group at once (so the
/// group does not wait out the session timeout).
public final class KafkaConsumer: Service, Sendable {
    private let engine: ConsumerEngine
    private let client: RDKafkaClient
    private let logger: Logger
    private let requestTimeout: Duration = .seconds(30)

    /// Creates a consumer and subscribes to the configured topics.
    ///
    /// - Parameters:
    ///   - configuration: Brokers, group, topics and consumer settings.
    ///   - rebalanceHandler: Hooks for assignment and revocation.
    ///   - logger: Receives librdkafka's log lines and KafkaKit's own.
    public init(
        configuration: KafkaConsumerConfiguration, rebalanceHandler: KafkaRebalanceHandler? = nil, logger: Logger
    ) throws(KafkaError) {
        let recorder = RebalanceRecorder()
        let client = try RDKafkaClient(
            kind: .consumer,
            properties: configuration.librdkafkaProperties(),
            context: RDKafkaClientContext(logger: logger, rebalanceRecorder: recorder),
            rebalanceCallback: true)
        try client.subscribe(configuration.topics)
        self.client = client
        self.logger = logger
        self.engine = ConsumerEngine(
            client: client, label: configuration.groupID, batchSize: configuration.pollBatchSize,
            pollTimeout: configuration.pollTimeout, recorder: recorder, rebalanceHandler: rebalanceHandler)
    }

    /// The messages of the assigned partitions. Iterate from one task at a time.
    public var messages: KafkaConsumerMessages {
        KafkaConsumerMessages(engine: self.engine)
    }

    /// Marks a message processed: its offset plus one is committed with the next commit
    /// (``commit()``, revocation or close). Cheap; does not talk to the broker.
    ///
    /// - Throws: A ``KafkaError`` if the partition is no longer assigned to this member.
    public func storeOffset(for message: KafkaConsumerMessage) throws(KafkaError) {
        try self.client.storeOffsets([(message.topicPartition, message.offset + 1)])
    }

    /// Marks a message processed and commits its offset plus one, waiting for the broker.
    public func commit(_ message: KafkaConsumerMessage) async throws(KafkaError) {
        try await self.commit([message.topicPartition: .offset(message.offset + 1)])
    }

    /// Commits the given offsets (the *next* offset to read per partition), waiting for the broker.
    ///
    /// The offsets are also stored, so a later commit on revocation or close never moves a
    /// partition back.
    public func commit(_ offsets: [KafkaTopicPartition: KafkaOffset]) async throws(KafkaError) {
        let entries = offsets.map { ($0.key, $0.value.rawValue) }
        try self.client.storeOffsets(entries)
        let client = self.client
        try await BlockingCall.run { () -> Result<Void, KafkaError> in
            Result { () throws(KafkaError) in try client.commitBlocking(entries) }
        }.get()
    }

    /// Commits all stored offsets, waiting for the broker. Succeeds when nothing is stored.
    public func commit() async throws(KafkaError) {
        let client = self.client
        try await BlockingCall.run { () -> Result<Void, KafkaError> in
            Result { () throws(KafkaError) in try client.commitBlocking(nil) }
        }.get()
    }

    /// The group's committed offsets (next offset to read) for the given partitions; partitions
    /// without one are missing from the result.
    public func committedOffsets(for partitions: [KafkaTopicPartition]) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let client = self.client
        let timeout = self.requestTimeout
        return try await BlockingCall.run { () -> Result<[KafkaTopicPartition: Int64], KafkaError> in
            Result { () throws(KafkaError) in try client.committedBlocking(partitions, timeout: timeout) }
        }.get().filter { $0.value >= 0 }
    }

    /// Moves the read position of an assigned partition.
    ///
    /// Messages of that partition already fetched but not yet returned are dropped, so the next
    /// message of the partition is the one at `offset`. Call it from the task that iterates
    /// ``messages``; to choose start offsets on assignment, use ``KafkaRebalanceHandler/onAssign``.
    public func seek(_ partition: KafkaTopicPartition, to offset: KafkaOffset) async throws(KafkaError) {
        let client = self.client
        let timeout = self.requestTimeout
        try await self.engine.onPollQueue { () -> Result<Void, KafkaError> in
            Result { () throws(KafkaError) in try client.seekBlocking([(partition, offset.rawValue)], timeout: timeout) }
        }.get()
        self.engine.dropBuffered { $0.topicPartition == partition }
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws(KafkaError) -> [KafkaTopicPartition] {
        try self.client.assignment()
    }

    /// Runs until graceful shutdown (or cancellation), then closes the consumer.
    public func run() async throws {
        try? await gracefulShutdown()
        try await self.close()
    }

    /// Ends the message sequence, commits stored offsets and leaves the group. Idempotent.
    ///
    /// ``run()`` calls it on graceful shutdown; call it yourself only when not running the
    /// consumer as a service.
    public func close() async throws(KafkaError) {
        try await self.engine.close()
        self.logger.info("consumer closed", metadata: ["client": "\(self.client.name)"])
    }
}
