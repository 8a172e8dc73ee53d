import Logging

/// Topic administration: idempotent topic creation and partition descriptions.
///
/// Not a `Service`: it does no background work of its own beyond librdkafka's connection
/// threads, and each call completes on its own. Blocking librdkafka calls run on a dedicated
/// dispatch queue, never on the cooperative pool. A process that exits right after using it calls
/// ``close()`` first (see there).
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient
    private let configuration: KafkaAdminConfiguration
    private let logger: Logger

    /// Creates an admin client and connects in the background.
    public init(configuration: KafkaAdminConfiguration, logger: Logger) throws(KafkaError) {
        // A producer-type handle: librdkafka runs admin requests on any client type, and producers
        // need no group.
        self.client = try RDKafkaClient(
            kind: .producer, properties: configuration.librdkafkaProperties(), context: RDKafkaClientContext(logger: logger))
        self.configuration = configuration
        self.logger = logger
    }

    /// Destroys the client and returns once librdkafka's threads have stopped.
    ///
    /// Call it after the last call has returned and before the process exits: releasing the admin
    /// only schedules the destruction, and a process exiting while a broker thread is inside a TLS
    /// handshake crashes in OpenSSL's exit handler. Idempotent; later calls throw
    /// ``KafkaError/Code/destroyed``.
    public func close() async {
        await self.client.destroy()
    }

    /// Throws ``KafkaError/Code/destroyed`` after ``close()``.
    private func checkOpen() throws(KafkaError) {
        guard !self.client.isDestroyed else { throw KafkaError(code: .destroyed, message: "the admin client is closed") }
    }

    /// Creates a topic unless one with that name exists.
    ///
    /// Idempotent: an existing topic (found up front, or reported as `TOPIC_ALREADY_EXISTS` when a
    /// concurrent creator won the race) is success, returned as
    /// ``KafkaTopicCreation/alreadyExists(partitions:)``. The existing topic is not compared with or
    /// changed to the specification.
    ///
    /// - Throws: ``KafkaError/Code/noController`` when the cluster has no controller to send
    ///   `CreateTopics` to (librdkafka's mock cluster; see
    ///   ``KafkaAdminConfiguration/autoCreateWithoutController``), or the broker's error
    ///   (invalid partition count, replication factor larger than the broker count, bad config).
    @discardableResult
    public func createTopic(_ specification: KafkaTopicSpecification) async throws(KafkaError) -> KafkaTopicCreation {
        try self.checkOpen()
        let client = self.client
        let timeout = self.configuration.requestTimeout
        let autoCreate = self.configuration.autoCreateWithoutController
        let logger = self.logger
        return try await BlockingCall.run { () -> Result<KafkaTopicCreation, KafkaError> in
            Result { () throws(KafkaError) in
                let metadata = try client.metadataBlocking(topic: nil, timeout: timeout)
                if let existing = metadata.topics.first(where: { $0.name == specification.name && $0.error == nil }) {
                    return .alreadyExists(partitions: Int32(existing.partitions.count))
                }

                // librdkafka waits for a controller indefinitely (up to the request timeout) when the
                // cluster names none; checking first turns a long hang into a clear error.
                let controller = client.controllerIDBlocking(timeout: .seconds(2))
                guard metadata.brokers.contains(where: { $0.id == controller }) else {
                    guard autoCreate else {
                        throw KafkaError(
                            code: .noController,
                            message: "the cluster reports no controller (id \(controller)), so CreateTopics cannot be sent;"
                                + " librdkafka's mock cluster (vanectl dev-kafka) has none: pre-create topics with"
                                + " `vanectl dev-kafka --topic \(specification.name):\(specification.partitions)`"
                                + " or enable KafkaAdminConfiguration.autoCreateWithoutController")
                    }
                    // Asking for one topic's metadata makes a broker with auto-creation create it.
                    let created = try client.metadataBlocking(topic: specification.name, timeout: timeout)
                    guard let topic = created.topics.first(where: { $0.name == specification.name }),
                        topic.error == nil, !topic.partitions.isEmpty
                    else {
                        throw KafkaError(
                            code: .topicNotFound, message: "broker did not auto-create topic \(specification.name)")
                    }
                    logger.notice(
                        "topic auto-created by a broker without controller; configs not applied",
                        metadata: ["topic": "\(specification.name)", "partitions": "\(topic.partitions.count)"])
                    return .autoCreated(partitions: Int32(topic.partitions.count))
                }

                if let error = client.createTopicBlocking(
                    name: specification.name, partitions: specification.partitions,
                    replicationFactor: specification.replicationFactor, configs: specification.configs, timeout: timeout)
                {
                    guard error.code == .topicAlreadyExists else { throw error }
                    let again = try client.metadataBlocking(topic: nil, timeout: timeout)
                    let partitions = again.topics.first { $0.name == specification.name }?.partitions.count ?? 0
                    return .alreadyExists(partitions: Int32(partitions))
                }
                logger.info("topic created", metadata: ["topic": "\(specification.name)"])
                return .created
            }
        }.get()
    }

    /// Describes a topic's partitions: leader, replicas and watermarks.
    ///
    /// - Throws: ``KafkaError/Code/topicNotFound`` if the cluster does not know the topic.
    public func describeTopic(_ name: String) async throws(KafkaError) -> KafkaTopicDescription {
        try self.checkOpen()
        let client = self.client
        let timeout = self.configuration.requestTimeout
        return try await BlockingCall.run { () -> Result<KafkaTopicDescription, KafkaError> in
            Result { () throws(KafkaError) in
                // All-topics metadata: asking for the one topic could auto-create it.
                let metadata = try client.metadataBlocking(topic: nil, timeout: timeout)
                guard let topic = metadata.topics.first(where: { $0.name == name }), topic.error == nil else {
                    throw KafkaError(code: .topicNotFound, message: "topic \(name) does not exist")
                }
                var partitions: [KafkaPartitionDescription] = []
                for partition in topic.partitions {
                    let (low, high) = try client.watermarksBlocking(topic: name, partition: partition.id, timeout: timeout)
                    partitions.append(
                        KafkaPartitionDescription(
                            id: partition.id, leader: partition.leader, replicas: partition.replicas,
                            inSyncReplicas: partition.inSyncReplicas, lowWatermark: low, highWatermark: high))
                }
                return KafkaTopicDescription(name: name, partitions: partitions)
            }
        }.get()
    }

    /// The names of all topics in the cluster.
    public func listTopics() async throws(KafkaError) -> [String] {
        try self.checkOpen()
        let client = self.client
        let timeout = self.configuration.requestTimeout
        return try await BlockingCall.run { () -> Result<[String], KafkaError> in
            Result { () throws(KafkaError) in
                try client.metadataBlocking(topic: nil, timeout: timeout).topics.filter { $0.error == nil }.map(\.name).sorted()
            }
        }.get()
    }
}
