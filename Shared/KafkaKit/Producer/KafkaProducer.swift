import Logging
import ServiceLifecycle

/// Produces records and reports each one's acknowledgement by the broker.
///
/// ```swift
/// let producer = try KafkaProducer(
///     configuration: .init(bootstrapServers: ["127.0.0.1:9092"]), logger: logger)
/// // in the ServiceGroup: services: [producer, ...]
/// let report = try await producer.send(topic: "flag-changes", key: Array(key.utf8), value: payload)
/// ```
///
/// Guarantees, with the default configuration (idempotent, `acks=all`):
/// - ``send(topic:partition:key:value:headers:)`` returns only after all in-sync replicas stored
///   the record; retries after broker errors never duplicate it, and records sent one after another
///   to a partition keep their order.
/// - It throws a ``KafkaError`` otherwise, at the latest after
///   ``KafkaProducerConfiguration/messageTimeout``.
/// - On graceful shutdown ``run()`` stops taking new sends, waits up to
///   ``KafkaProducerConfiguration/shutdownDrainTimeout`` for everything in flight, and fails what is
///   left with ``KafkaError/Code/drainTimedOut``. A send that returned successfully is never lost.
///
/// Delivery reports are applied on librdkafka's own background thread, which resumes the waiting
/// tasks directly: there is no polling loop, no extra thread, and no added latency.
/// Cancelling a task that awaits a send does not withdraw the record (it is already with
/// librdkafka); the send still returns when the record is acknowledged or times out.
///
/// The producer must be run as a `Service` (``run()``) so that shutdown drains it; sends work as
/// soon as it is created.
public final class KafkaProducer: Service, Sendable {
    private let client: RDKafkaClient
    private let tracker: DeliveryTracker
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger

    /// Creates a producer and connects to the cluster in the background.
    ///
    /// - Parameters:
    ///   - configuration: Brokers and producer settings.
    ///   - logger: Receives librdkafka's log lines and KafkaKit's own.
    /// - Throws: ``KafkaError/Code/invalidConfiguration`` for rejected properties,
    ///   ``KafkaError/Code/clientCreationFailed`` if librdkafka cannot create the client.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        let tracker = DeliveryTracker()
        self.tracker = tracker
        self.configuration = configuration
        self.logger = logger
        self.client = try RDKafkaClient(
            kind: .producer,
            properties: try configuration.librdkafkaProperties(),
            context: RDKafkaClientContext(logger: logger, deliveryTracker: tracker),
            deliveryEvents: true)
    }

    /// Sends one record and waits for the broker's acknowledgement.
    ///
    /// - Parameters:
    ///   - topic: The destination topic.
    ///   - partition: An explicit partition, or `nil` to hash the key with the configured
    ///     partitioner (murmur2, Java-compatible, by default; random without a key).
    ///   - key: The record key.
    ///   - value: The record value; `nil` produces a tombstone.
    ///   - headers: Record headers.
    /// - Returns: Where the record was stored.
    /// - Throws: A ``KafkaError``: ``KafkaError/Code/messageTimedOut`` when no broker acknowledged
    ///   in time, ``KafkaError/Code/shutdown`` after shutdown began, or the broker's error.
    @discardableResult
    public func send(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = []
    ) async throws(KafkaError) -> KafkaDeliveryReport {
        try await self.send(KafkaRecord(topic: topic, partition: partition, key: key, value: value, headers: headers))
    }

    /// Sends one record and waits for the broker's acknowledgement.
    ///
    /// See ``send(topic:partition:key:value:headers:)``.
    @discardableResult
    public func send(_ record: KafkaRecord) async throws(KafkaError) -> KafkaDeliveryReport {
        guard let id = self.tracker.registerSingle(topic: record.topic) else {
            throw KafkaError(code: .shutdown, message: "the producer is shutting down")
        }
        let topic = self.client.topicHandle(record.topic)
        while let error = self.client.produce(record, topic: topic, opaque: id) {
            guard error.code == .queueFull else {
                self.tracker.cancelSingle(id)
                throw error
            }
            do {
                try await self.waitForQueueSpace()
            } catch {
                self.tracker.cancelSingle(id)
                throw error
            }
        }
        return try await self.tracker.awaitSingle(id).get()
    }

    /// Sends many records and waits until every one is acknowledged or failed.
    ///
    /// Cheaper than one ``send(_:)-(KafkaRecord)`` per record for high-throughput callers: the whole
    /// batch shares one continuation and one tracking entry. Records are handed to librdkafka in
    /// array order, so records for the same partition keep that order.
    ///
    /// - Parameter records: The records; may mix topics and partitions.
    /// - Returns: One result per record, in the same order.
    public func send(_ records: [KafkaRecord]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !records.isEmpty else { return [] }
        if records.count >= DeliveryTracker.maximumBatchCount {
            var results: [Result<KafkaDeliveryReport, KafkaError>] = []
            results.reserveCapacity(records.count)
            var start = 0
            while start < records.count {
                let end = min(start + DeliveryTracker.maximumBatchCount - 1, records.count)
                results += await self.send(Array(records[start..<end]))
                start = end
            }
            return results
        }
        guard let batch = self.tracker.registerBatch(records) else {
            let error = KafkaError(code: .shutdown, message: "the producer is shutting down")
            return Array(repeating: .failure(error), count: records.count)
        }
        // Records are handed to librdkafka borrowed from the array's buffer (no per-record copy or
        // retain), and topic handles are resolved once per run of records with the same topic.
        // The loop leaves the buffer only to wait when librdkafka's queue is full.
        let client = self.client
        let tracker = self.tracker
        var next = 0
        while next < records.count {
            let stop: (index: Int, queueFull: Bool) = records.withUnsafeBufferPointer { buffer in
                var lastTopic = ""
                var topic: OpaquePointer?
                var index = next
                while index < buffer.count {
                    if topic == nil || buffer[index].topic != lastTopic {
                        lastTopic = buffer[index].topic
                        topic = client.topicHandle(lastTopic)
                    }
                    let opaque = DeliveryTracker.opaque(batch: batch, index: index)
                    if let error = client.produce(buffer[index], topic: topic!, opaque: opaque) {
                        if error.code == .queueFull { return (index, true) }
                        tracker.failBatchEntry(batch: batch, index: index, error: error)
                    }
                    index += 1
                }
                return (index, false)
            }
            next = stop.index
            guard stop.queueFull else { break }
            do {
                try await self.waitForQueueSpace()
            } catch {
                tracker.failBatchEntry(batch: batch, index: next, error: error)
                next += 1
            }
        }
        return await self.tracker.awaitBatch(batch)
    }

    /// Back-pressure: librdkafka's queue (`queue.buffering.max.messages`) is full until delivery
    /// reports free space, which the background thread does without our help, so a short sleep
    /// suffices.
    private func waitForQueueSpace() async throws(KafkaError) {
        guard self.tracker.isAcceptingSends else {
            throw KafkaError(code: .shutdown, message: "the producer is shutting down")
        }
        do {
            try await Task.sleep(for: .milliseconds(1))
        } catch {
            throw KafkaError(code: .cancelled, message: "cancelled while waiting for space in the producer queue")
        }
    }

    /// Runs until graceful shutdown (or cancellation), then drains.
    ///
    /// Drain: new sends fail with ``KafkaError/Code/shutdown``; records already handed to librdkafka
    /// get up to ``KafkaProducerConfiguration/shutdownDrainTimeout`` to be acknowledged; whatever is
    /// still outstanding then is purged and its sends fail with ``KafkaError/Code/drainTimedOut``.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.drain()
    }

    private func drain() async {
        self.tracker.stopAcceptingSends()
        let client = self.client
        let timeout = self.configuration.shutdownDrainTimeout
        let outstanding = client.outstandingMessages
        self.logger.info("draining producer", metadata: ["outstanding": "\(outstanding)", "timeout": "\(timeout)"])
        let clock = ContinuousClock()
        let start = clock.now
        let drained = await BlockingCall.run { client.flushBlocking(timeout: timeout) }
        if drained {
            // Every enqueued record has its report. A send that registered just before the drain
            // began and enqueued after the flush is still served by librdkafka, which lives as long
            // as the producer, so nothing is failed here.
            self.logger.info("producer drained", metadata: ["duration": "\(clock.now - start)"])
            return
        }
        let left = client.outstandingMessages
        self.logger.warning(
            "producer drain deadline passed; failing unacknowledged sends", metadata: ["outstanding": "\(left)"])
        // Purged messages get delivery reports (mapped to drainTimedOut); give the background thread
        // a moment to serve them, then fail whatever still waits.
        client.purgeOutstanding()
        _ = await BlockingCall.run { client.flushBlocking(timeout: .seconds(2)) }
        await self.tracker.waitForDeliveriesInProgress()
        self.tracker.failAll(
            KafkaError(code: .drainTimedOut, message: "not acknowledged before the producer's shutdown drain deadline"))
    }
}
