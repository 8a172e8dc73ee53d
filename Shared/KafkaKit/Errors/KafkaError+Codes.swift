// Numeric values are librdkafka's `rd_kafka_resp_err_t` (ABI-stable across librdkafka releases; the
// positive ones are Kafka protocol error codes). `KafkaErrorTests` checks them against the C enum.

extension KafkaError.Code {
    // MARK: librdkafka local errors

    /// librdkafka could not deliver the message within `message.timeout.ms` (`_MSG_TIMED_OUT`).
    public static let messageTimedOut = Self(rawValue: -192)
    /// A request timed out locally (`_TIMED_OUT`).
    public static let timedOut = Self(rawValue: -185)
    /// The local producer queue is full (`_QUEUE_FULL`); KafkaKit waits and retries internally.
    public static let queueFull = Self(rawValue: -184)
    /// A broker connection failed (`_TRANSPORT`).
    public static let transport = Self(rawValue: -195)
    /// No broker is reachable (`_ALL_BROKERS_DOWN`).
    public static let allBrokersDown = Self(rawValue: -187)
    /// The topic is not known to the cluster (`_UNKNOWN_TOPIC`).
    public static let unknownTopicLocal = Self(rawValue: -188)
    /// The partition does not exist (`_UNKNOWN_PARTITION`).
    public static let unknownPartition = Self(rawValue: -190)
    /// An invalid argument or configuration value (`_INVALID_ARG`).
    public static let invalidArgument = Self(rawValue: -186)
    /// The client instance hit a fatal error and is unusable (`_FATAL`).
    public static let fatal = Self(rawValue: -150)
    /// The message was removed from the local queue before it was sent (`_PURGE_QUEUE`).
    public static let purgedFromQueue = Self(rawValue: -152)
    /// The message was in flight when it was purged; the broker may or may not have stored it
    /// (`_PURGE_INFLIGHT`).
    public static let purgedInFlight = Self(rawValue: -151)
    /// The client is being destroyed (`_DESTROY`).
    public static let destroyed = Self(rawValue: -197)
    /// The consumer lost its partitions involuntarily (`_ASSIGNMENT_LOST`).
    public static let assignmentLost = Self(rawValue: -142)
    /// There were no offsets to commit (`_NO_OFFSET`); not a failure for callers.
    public static let noOffset = Self(rawValue: -168)
    /// The consumer reached the end of a partition (`_PARTITION_EOF`).
    public static let partitionEOF = Self(rawValue: -191)
    /// The broker does not support a feature the request needs (`_UNSUPPORTED_FEATURE`).
    public static let unsupportedFeature = Self(rawValue: -165)
    /// The operation is not valid in the client's current state (`_STATE`).
    public static let invalidState = Self(rawValue: -172)
    /// Waiting for the group coordinator (`_WAIT_COORD`).
    public static let waitingForCoordinator = Self(rawValue: -180)
    /// The message was rejected by the broker or librdkafka as malformed (`_BAD_MSG`).
    public static let badMessage = Self(rawValue: -199)
    /// Unknown broker-side error (`UNKNOWN`).
    public static let unknown = Self(rawValue: -1)

    // MARK: Kafka protocol errors (returned by brokers)

    /// The requested offset is outside the partition's range.
    public static let offsetOutOfRange = Self(rawValue: 1)
    /// The topic or partition does not exist on the broker.
    public static let unknownTopicOrPartition = Self(rawValue: 3)
    /// The message is larger than the broker accepts.
    public static let messageSizeTooLarge = Self(rawValue: 10)
    /// The partition has no leader right now (e.g. during an election).
    public static let leaderNotAvailable = Self(rawValue: 5)
    /// The request went to a broker that no longer leads the partition.
    public static let notLeaderForPartition = Self(rawValue: 6)
    /// The broker did not complete the request in time.
    public static let requestTimedOut = Self(rawValue: 7)
    /// The broker connection dropped while the request was outstanding.
    public static let networkException = Self(rawValue: 13)
    /// The group coordinator is still loading.
    public static let coordinatorLoadInProgress = Self(rawValue: 14)
    /// The group coordinator is not available.
    public static let coordinatorNotAvailable = Self(rawValue: 15)
    /// The request went to a broker that is not the group coordinator.
    public static let notCoordinator = Self(rawValue: 16)
    /// Too few in-sync replicas to accept an `acks=all` write.
    public static let notEnoughReplicas = Self(rawValue: 19)
    /// The write was stored on the leader but too few replicas followed.
    public static let notEnoughReplicasAfterAppend = Self(rawValue: 20)
    /// The consumer group is rebalancing.
    public static let rebalanceInProgress = Self(rawValue: 27)
    /// Not authorized to access the topic.
    public static let topicAuthorizationFailed = Self(rawValue: 29)
    /// A topic with that name already exists.
    public static let topicAlreadyExists = Self(rawValue: 36)
    /// The partition count is invalid.
    public static let invalidPartitions = Self(rawValue: 37)
    /// The replication factor is invalid (e.g. larger than the broker count).
    public static let invalidReplicationFactor = Self(rawValue: 38)
    /// A topic configuration entry is invalid.
    public static let invalidConfig = Self(rawValue: 40)
    /// The request went to a broker that is not the controller.
    public static let notController = Self(rawValue: 41)
    /// The idempotent producer's sequence numbers went out of order.
    public static let outOfOrderSequenceNumber = Self(rawValue: 45)
    /// The broker lost track of the idempotent producer's id.
    public static let unknownProducerID = Self(rawValue: 59)
    /// The broker's log storage failed.
    public static let kafkaStorageError = Self(rawValue: 56)

    // MARK: KafkaKit's own codes

    /// A configuration property was rejected (unknown name or invalid value).
    public static let invalidConfiguration = Self(rawValue: -10_001)
    /// The client could not be created.
    public static let clientCreationFailed = Self(rawValue: -10_002)
    /// The producer or consumer is shutting down or closed and takes no new work.
    public static let shutdown = Self(rawValue: -10_003)
    /// A send was still unacknowledged when the graceful-shutdown drain deadline passed.
    public static let drainTimedOut = Self(rawValue: -10_004)
    /// The cluster reports no usable controller, so an admin request cannot be routed. librdkafka's
    /// mock cluster (`vanectl dev-kafka`) is such a cluster.
    public static let noController = Self(rawValue: -10_005)
    /// The consumer's `onAssign` rebalance handler threw.
    public static let rebalanceHandlerFailed = Self(rawValue: -10_006)
    /// The development cluster (librdkafka's mock cluster) could not be created or controlled.
    public static let developmentClusterFailed = Self(rawValue: -10_007)
    /// The waiting task was cancelled.
    public static let cancelled = Self(rawValue: -10_008)
    /// The messages sequence was iterated twice at the same time, which KafkaKit does not allow.
    public static let concurrentIteration = Self(rawValue: -10_009)
    /// A topic's metadata could not be found or was inconsistent.
    public static let topicNotFound = Self(rawValue: -10_010)

    static let kafkaKitNames: [Self: String] = [
        .invalidConfiguration: "INVALID_CONFIGURATION",
        .clientCreationFailed: "CLIENT_CREATION_FAILED",
        .shutdown: "SHUTDOWN",
        .drainTimedOut: "DRAIN_TIMED_OUT",
        .noController: "NO_CONTROLLER",
        .rebalanceHandlerFailed: "REBALANCE_HANDLER_FAILED",
        .developmentClusterFailed: "DEVELOPMENT_CLUSTER_FAILED",
        .cancelled: "CANCELLED",
        .concurrentIteration: "CONCURRENT_ITERATION",
        .topicNotFound: "TOPIC_NOT_FOUND",
    ]

    /// Whether an operation that failed with this code may succeed when tried again.
    ///
    /// This is the default used when librdkafka gives no per-error classification. Transient
    /// broker conditions (leader moves, timeouts, connection loss, coordinator changes) are
    /// retriable; invalid requests, authorization failures and fatal errors are not.
    public var isRetriable: Bool {
        Self.retriable.contains(self)
    }

    /// Whether this code by itself means the client instance is unusable.
    public var isFatal: Bool {
        self == .fatal
    }

    private static let retriable: Set<Self> = [
        .messageTimedOut, .timedOut, .queueFull, .transport, .allBrokersDown, .waitingForCoordinator,
        .purgedFromQueue, .leaderNotAvailable, .notLeaderForPartition, .requestTimedOut, .networkException,
        .coordinatorLoadInProgress, .coordinatorNotAvailable, .notCoordinator, .notEnoughReplicas,
        .notEnoughReplicasAfterAppend, .rebalanceInProgress, .unknownTopicOrPartition, .kafkaStorageError,
        .notController, .noController,
        Self(rawValue: -193),  // _RESOLVE
        Self(rawValue: -166),  // _TIMED_OUT_QUEUE
        Self(rawValue: 8),  // BROKER_NOT_AVAILABLE
        Self(rawValue: 9),  // REPLICA_NOT_AVAILABLE
        Self(rawValue: 70),  // FETCH_SESSION_ID_NOT_FOUND
        Self(rawValue: 71),  // INVALID_FETCH_SESSION_EPOCH
        Self(rawValue: 74),  // FENCED_LEADER_EPOCH
        Self(rawValue: 75),  // UNKNOWN_LEADER_EPOCH
        Self(rawValue: 78),  // OFFSET_NOT_AVAILABLE
        Self(rawValue: 80),  // PREFERRED_LEADER_NOT_AVAILABLE
        Self(rawValue: 88),  // UNSTABLE_OFFSET_COMMIT
        Self(rawValue: 89),  // THROTTLING_QUOTA_EXCEEDED
    ]
}
