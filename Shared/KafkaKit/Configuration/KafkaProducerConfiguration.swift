/// Settings for ``KafkaProducer``.
///
/// The defaults are the safe ones for Vane: the idempotent producer with `acks=all`, so a send
/// that returns was written to all in-sync replicas exactly once, in order per partition.
public struct KafkaProducerConfiguration: Sendable {
    /// Broker acknowledgement level (`acks`).
    public enum Acknowledgements: String, Sendable, Hashable {
        /// Wait for all in-sync replicas (`acks=all`). Required by the idempotent producer.
        case all = "all"
        /// Wait for the partition leader only (`acks=1`).
        case leader = "1"
        /// Do not wait for the broker at all (`acks=0`); delivery reports then say nothing.
        case none = "0"
    }

    /// How keyed records are mapped to partitions when no explicit partition is given.
    public enum Partitioner: String, Sendable, Hashable {
        /// Java-compatible murmur2 hash of the key; records without a key go to a random
        /// partition. The same key lands on the same partition as with Kafka's Java producer,
        /// so Java and Swift producers can share keyed topics (librdkafka `murmur2_random`).
        case murmur2Random = "murmur2_random"
        /// CRC32 hash of the key, random without a key: librdkafka's own default
        /// (`consistent_random`). Not compatible with Java producers' placement.
        case consistentRandom = "consistent_random"
        /// Uniformly random, ignoring the key.
        case random = "random"
    }

    /// Compression codec for message batches (`compression.codec`).
    public enum Compression: String, Sendable, Hashable {
        /// No compression.
        case none
        /// gzip: best ratio of the classic codecs, most CPU.
        case gzip
        /// snappy: fast, modest ratio.
        case snappy
        /// lz4: fast, good ratio.
        case lz4
        /// zstd: best ratio per CPU; needs Kafka 2.1 or newer.
        case zstd
    }

    /// Initial brokers to contact, as `host:port` strings.
    public var bootstrapServers: [String]
    /// The client id brokers log and use for quotas.
    public var clientID: String = "vane-producer"
    /// Whether the idempotent producer is on (`enable.idempotence`): no duplicates from
    /// retries, per-partition order kept. Requires ``acknowledgements`` `.all`.
    public var isIdempotent: Bool = true
    /// Broker acknowledgement level.
    public var acknowledgements: Acknowledgements = .all
    /// How long to wait for more records before sending a batch (`linger.ms`). Higher values
    /// make bigger batches (throughput); lower values cut latency. librdkafka's default is 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// Upper bound on messages per batch (`batch.num.messages`).
    public var maximumBatchMessages: Int = 10_000
    /// How long librdkafka keeps trying to deliver a record (`message.timeout.ms`), including
    /// retries. A send that is not acknowledged within this time fails with
    /// ``KafkaError/Code/messageTimedOut``. librdkafka's own default is 300 s; Vane uses 30 s.
    public var messageTimeout: Duration = .seconds(30)
    /// Partitioner for records without an explicit partition.
    public var partitioner: Partitioner = .murmur2Random
    /// Batch compression.
    public var compression: Compression = .none
    /// On graceful shutdown, how long ``KafkaProducer/run()`` waits for in-flight records to be
    /// acknowledged. Sends still pending then fail with ``KafkaError/Code/drainTimedOut``.
    public var shutdownDrainTimeout: Duration = .seconds(10)
    /// Encryption and authentication (TLS, SASL); plaintext by default. Applied after the
    /// properties above and before ``additionalProperties``.
    public var security: KafkaSecurity = .plaintext
    /// Raw librdkafka properties, applied after everything above except
    /// ``KafkaSecurity/additionalProperties``. See
    /// librdkafka's CONFIGURATION.md; unknown names are rejected when the producer is created.
    public var additionalProperties: [String: String] = [:]

    /// Creates a configuration with defaults for everything but the brokers.
    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    func librdkafkaProperties() throws(KafkaError) -> [String: String] {
        if self.isIdempotent && self.acknowledgements != .all {
            throw KafkaError(
                code: .invalidConfiguration,
                message: "the idempotent producer requires acknowledgements = .all")
        }
        let properties: [String: String] = [
            "bootstrap.servers": self.bootstrapServers.joined(separator: ","),
            "client.id": self.clientID,
            "enable.idempotence": self.isIdempotent ? "true" : "false",
            "acks": self.acknowledgements.rawValue,
            "linger.ms": String(self.linger.clampedMilliseconds),
            "batch.num.messages": String(self.maximumBatchMessages),
            "message.timeout.ms": String(self.messageTimeout.clampedMilliseconds),
            "partitioner": self.partitioner.rawValue,
            "compression.codec": self.compression.rawValue,
        ]
        return composeProperties(properties, security: self.security, additional: self.additionalProperties)
    }
}
