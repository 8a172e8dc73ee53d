import Logging
import ServiceLifecycle

/// An in-memory Kafka cluster for development and tests: librdkafka's mock cluster.
///
/// It speaks the Kafka protocol on `127.0.0.1` (one ephemeral port per broker), so any Kafka
/// client, including `kcat`, can use ``bootstrapServers``. It keeps everything in memory: all
/// data is lost when it stops. It is **not** for production.
///
/// What librdkafka 2.0.2's mock cluster supports: produce (including idempotent and
/// transactional producers), fetch, consumer groups with offset commits, metadata and topic
/// auto-creation (4 partitions, replication factor `min(3, brokers)`), watermark queries. What it
/// does not: the admin API (`CreateTopics`, `DescribeConfigs`, ...; the cluster reports no
/// controller), choosing the brokers' ports, changing the auto-created partition count. Use
/// ``createTopic(_:partitions:replicationFactor:)`` for topics with other partition counts.
///
/// Retention is librdkafka's, fixed: each partition keeps about its newest 5 MiB (and at most
/// 100,000 message sets); older messages are dropped and the low watermark moves up. Topic configs
/// such as `cleanup.policy=compact` are not emulated.
///
/// Fault injection for tests: take brokers down and up, push protocol errors for a request type,
/// move partition leaders, add latency.
///
/// Control methods block the caller briefly (they are forwarded to the mock cluster's thread
/// and wait for it), typically for microseconds.
///
/// As a `Service`, ``run()`` keeps the cluster up until graceful shutdown. The cluster itself
/// lives as long as this object.
public final class KafkaDevelopmentCluster: Service, Sendable {
    /// A broker selector for fault injection.
    public enum Broker: Sendable, Hashable, CustomStringConvertible {
        /// Every broker.
        case all
        /// One broker, by id (`1...brokerCount`).
        case id(Int32)

        var rawValue: Int32 {
            switch self {
            case .all: -1
            case .id(let id): id
            }
        }

        /// A short human-readable form.

        public var description: String {
            switch self {
            case .all: "all"
            case .id(let id): "\(id)"
            }
        }
    }

    /// Kafka protocol request types (API keys) commonly used for error injection.
    public enum APIKey {
        /// ProduceRequest.
        public static let produce: Int16 = 0
        /// FetchRequest.
        public static let fetch: Int16 = 1
        /// ListOffsetsRequest.
        public static let listOffsets: Int16 = 2
        /// MetadataRequest.
        public static let metadata: Int16 = 3
        /// OffsetCommitRequest.
        public static let offsetCommit: Int16 = 8
        /// OffsetFetchRequest.
        public static let offsetFetch: Int16 = 9
        /// FindCoordinatorRequest.
        public static let findCoordinator: Int16 = 10
        /// JoinGroupRequest.
        public static let joinGroup: Int16 = 11
        /// HeartbeatRequest.
        public static let heartbeat: Int16 = 12
        /// InitProducerIdRequest.
        public static let initProducerID: Int16 = 22
    }

    private let cluster: RDKafkaMockCluster
    private let logger: Logger

    /// The number of brokers, with ids `1...brokerCount`.
    public let brokerCount: Int
    /// The brokers' addresses, comma-separated (`bootstrap.servers` format).
    public var bootstrapServers: String { self.cluster.bootstrapServers }

    /// Starts a cluster.
    ///
    /// - Parameters:
    ///   - brokers: The number of brokers (at least 1).
    ///   - logger: Receives the mock cluster's error log lines.
    public init(brokers: Int = 3, logger: Logger) throws(KafkaError) {
        guard brokers >= 1 else {
            throw KafkaError(code: .invalidArgument, message: "a cluster needs at least one broker")
        }
        self.cluster = try RDKafkaMockCluster(brokers: Int32(clamping: brokers), logger: logger)
        self.brokerCount = brokers
        self.logger = logger
    }

    /// Creates a topic with an explicit partition count.
    ///
    /// - Parameter replicationFactor: Defaults to `min(3, brokerCount)`.
    /// - Throws: A ``KafkaError`` if the topic already exists or the arguments are invalid.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int? = nil) throws(KafkaError) {
        guard partitions >= 1 else {
            throw KafkaError(code: .invalidPartitions, message: "partitions must be at least 1")
        }
        let replication = replicationFactor ?? min(3, self.brokerCount)
        try self.cluster.createTopic(name, partitions: Int32(clamping: partitions), replicationFactor: Int32(clamping: replication))
    }

    /// Disconnects a broker (or all) and refuses new connections. Leaders do not move.
    public func setDown(_ broker: Broker) throws(KafkaError) {
        try self.cluster.setBrokerDown(broker.rawValue)
    }

    /// Lets a broker (or all) accept connections again.
    public func setUp(_ broker: Broker) throws(KafkaError) {
        try self.cluster.setBrokerUp(broker.rawValue)
    }

    /// Makes the next requests of one type fail with the given errors, one error per request,
    /// in order. `KafkaError.Code.transport` makes the broker drop the connection instead.
    ///
    /// - Parameters:
    ///   - apiKey: The request type (see ``APIKey``).
    ///   - errors: The errors to return.
    public func pushRequestErrors(apiKey: Int16, errors: [KafkaError.Code]) {
        self.cluster.pushRequestErrors(apiKey: apiKey, codes: errors.map(\.rawValue))
    }

    /// Removes errors pushed for a request type that were not used up.
    public func clearRequestErrors(apiKey: Int16) {
        self.cluster.clearRequestErrors(apiKey: apiKey)
    }

    /// Moves a partition's leadership to a broker (`-1`: no leader).
    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try self.cluster.setPartitionLeader(topic: topic, partition: partition, broker: broker)
    }

    /// Adds a round-trip delay to a broker's (or every broker's) responses.
    public func setRoundTripTime(_ broker: Broker, _ delay: Duration) throws(KafkaError) {
        try self.cluster.setRoundTripTime(broker.rawValue, milliseconds: delay.clampedMilliseconds)
    }

    /// Keeps running until graceful shutdown or cancellation.
    public func run() async throws {
        try? await gracefulShutdown()
        self.logger.info("development cluster stopping")
    }
}
