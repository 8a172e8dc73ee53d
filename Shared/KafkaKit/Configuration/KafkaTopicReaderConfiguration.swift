/// Settings for ``KafkaTopicReader``, a group-less reader of every partition of one topic.
public struct KafkaTopicReaderConfiguration: Sendable {
    /// Where the reader starts in each partition.
    public enum StartPosition: Sendable, Hashable {
        /// The oldest message still in each partition.
        case earliest
        /// The end of each partition: only messages produced after the reader started.
        case latest
        /// The same concrete offset in every partition (clamped by the broker to the
        /// partition's range via `auto.offset.reset=earliest`).
        case offset(Int64)
        /// A concrete offset per partition; partitions missing from the map start at the
        /// earliest message.
        case offsets([Int32: Int64])
    }

    /// Initial brokers to contact, as `host:port` strings.
    public var bootstrapServers: [String]
    /// The client id brokers log and use for quotas.
    public var clientID: String = "vane-reader"
    /// The topic to read.
    public var topic: String
    /// Where to start.
    public var startPosition: StartPosition = .earliest
    /// How long ``KafkaTopicReader/start()`` waits for the topic's metadata and watermarks.
    public var metadataTimeout: Duration = .seconds(10)
    /// How many messages one trip to the polling thread fetches at most.
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

    /// Creates a configuration that reads `topic` from the earliest message.
    public init(bootstrapServers: [String], topic: String, startPosition: StartPosition = .earliest) {
        self.bootstrapServers = bootstrapServers
        self.topic = topic
        self.startPosition = startPosition
    }

    func librdkafkaProperties() -> [String: String] {
        let properties: [String: String] = [
            "bootstrap.servers": self.bootstrapServers.joined(separator: ","),
            "client.id": self.clientID,
            // No group: partitions are assigned explicitly and nothing is committed.
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
        ]
        return composeProperties(properties, security: self.security, additional: self.additionalProperties)
    }
}
