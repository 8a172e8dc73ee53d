/// A topic to create with ``KafkaAdmin/createTopic(_:)``.
public struct KafkaTopicSpecification: Sendable, Hashable {
    /// The topic name.
    public var name: String
    /// The number of partitions.
    public var partitions: Int32
    /// How many brokers keep a copy of each partition; `-1` uses the broker's default.
    public var replicationFactor: Int32
    /// Topic configs, e.g. `["cleanup.policy": "compact", "min.insync.replicas": "2"]`.
    public var configs: [String: String]

    /// Creates a specification.
    public init(name: String, partitions: Int32, replicationFactor: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What ``KafkaAdmin/createTopic(_:)`` did.
public enum KafkaTopicCreation: Sendable, Hashable {
    /// The cluster created the topic as specified.
    case created
    /// A topic with that name already existed; it was left unchanged (its partition count and
    /// configs may differ from the specification).
    case alreadyExists(partitions: Int32)
    /// The cluster has no controller (librdkafka's mock cluster), so the broker auto-created the
    /// topic with its default partition count and without the requested configs
    /// (``KafkaAdminConfiguration/autoCreateWithoutController``).
    case autoCreated(partitions: Int32)
}

/// A topic's partitions as ``KafkaAdmin/describeTopic(_:)`` reports them.
public struct KafkaTopicDescription: Sendable, Hashable {
    /// The topic name.
    public var name: String
    /// The partitions, ordered by id.
    public var partitions: [KafkaPartitionDescription]
}

/// One partition of a ``KafkaTopicDescription``.
public struct KafkaPartitionDescription: Sendable, Hashable {
    /// The partition id.
    public var id: Int32
    /// The leader's broker id, or `-1` while there is none.
    public var leader: Int32
    /// Broker ids holding a replica.
    public var replicas: [Int32]
    /// Broker ids of in-sync replicas.
    public var inSyncReplicas: [Int32]
    /// The oldest offset still stored.
    public var lowWatermark: Int64
    /// The offset the next record will get (one past the last stored record).
    public var highWatermark: Int64
}
