/// Settings for ``KafkaConsumer``, a consumer-group member with manual offset commits.
public struct KafkaConsumerConfiguration: Sendable {
    /// Where to start when the group has no committed offset for a partition
    /// (`auto.offset.reset`).
    public enum OffsetReset: String, Sendable, Hashable {
        /// The oldest message in the partition.
        case earliest
        /// Only messages produced after the assignment.
        case latest
        /// Fail with an error instead of guessing.
        case error
    }

    /// How the group spreads partitions over members (`partition.assignment.strategy`).
    public enum AssignmentStrategy: String, Sendable, Hashable {
        /// Incremental (cooperative) rebalancing: members keep the partitions they still own
        /// while the group rebalances, and rebalance events list only the partitions that changed.
        case cooperativeSticky = "cooperative-sticky"
        /// Eager range assignment: every rebalance revokes everything, then assigns the full set.
        case range = "range"
        /// Eager round-robin assignment.
        case roundRobin = "roundrobin"
    }

    /// Initial brokers to contact, as `host:port` strings.
    public var bootstrapServers: [String]
    /// The client id brokers log and use for quotas.
    public var clientID: String = "vane-consumer"
    /// The consumer group (`group.id`).
    public var groupID: String
    /// The topics to subscribe to.
    public var topics: [String]
    /// Where to start without a committed offset.
    public var offsetReset: OffsetReset = .earliest
    /// How long the group coordinator waits for heartbeats before it declares this member dead
    /// and rebalances (`session.timeout.ms`). A member that crashes holds its partitions this
    /// long; a member that closes cleanly leaves at once. librdkafka's default is 45 s.
    public var sessionTimeout: Duration = .seconds(45)
    /// How often to heartbeat (`heartbeat.interval.ms`); keep it well under a third of the
    /// session timeout.
    public var heartbeatInterval: Duration = .seconds(3)
    /// The longest time between two reads of ``KafkaConsumer/messages`` before librdkafka
    /// leaves the group on its own (`max.poll.interval.ms`). Processing one message (or running
    /// the rebalance handler) must take less than this.
    public var maximumPollInterval: Duration = .seconds(300)
    /// Partition assignment strategy.
    public var assignmentStrategy: AssignmentStrategy = .cooperativeSticky
    /// How many messages one trip to the polling thread fetches at most. Bigger batches amortize
    /// the thread hop; the sequence still yields one message at a time.
    public var pollBatchSize: Int = 500
    /// How long one trip to the polling thread waits for a message before checking for
    /// shutdown and cancellation.
    public var pollTimeout: Duration = .milliseconds(100)
    /// Encryption and authentication (TLS, SASL); plaintext by default. Applied after the
    /// properties above and before ``additionalProperties``.
    public var security: KafkaSecurity = .plaintext
    /// Raw librdkafka properties, applied after everything above except
    /// ``KafkaSecurity/additionalProperties``.
    public var additionalProperties: [String: String] = [:]

    /// Creates a configuration with defaults for everything but brokers, group and topics.
    public init(bootstrapServers: [String], groupID: String, topics: [String]) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.topics = topics
    }

    func librdkafkaProperties() -> [String: String] {
        let properties: [String: String] = [
            "bootstrap.servers": self.bootstrapServers.joined(separator: ","),
            "client.id": self.clientID,
            "group.id": self.groupID,
            // Offsets are stored only for messages the application marked processed, and
            // committed only when it asks, on revocation and on close: at-least-once.
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": self.offsetReset.rawValue,
            "session.timeout.ms": String(self.sessionTimeout.clampedMilliseconds),
            "heartbeat.interval.ms": String(self.heartbeatInterval.clampedMilliseconds),
            "max.poll.interval.ms": String(self.maximumPollInterval.clampedMilliseconds),
            "partition.assignment.strategy": self.assignmentStrategy.rawValue,
        ]
        return composeProperties(properties, security: self.security, additional: self.additionalProperties)
    }
}
