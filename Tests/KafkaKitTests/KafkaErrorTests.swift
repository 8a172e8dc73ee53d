import CRdKafka
import Testing

@testable import KafkaKit

@Suite("KafkaError")
struct KafkaErrorTests {
    @Test("static codes match librdkafka's rd_kafka_resp_err_t values")
    func codesMatchLibrdkafka() {
        let pairs: [(KafkaError.Code, rd_kafka_resp_err_t)] = [
            (.messageTimedOut, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT),
            (.timedOut, RD_KAFKA_RESP_ERR__TIMED_OUT),
            (.queueFull, RD_KAFKA_RESP_ERR__QUEUE_FULL),
            (.transport, RD_KAFKA_RESP_ERR__TRANSPORT),
            (.allBrokersDown, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN),
            (.unknownTopicLocal, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC),
            (.unknownPartition, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION),
            (.invalidArgument, RD_KAFKA_RESP_ERR__INVALID_ARG),
            (.fatal, RD_KAFKA_RESP_ERR__FATAL),
            (.purgedFromQueue, RD_KAFKA_RESP_ERR__PURGE_QUEUE),
            (.purgedInFlight, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT),
            (.destroyed, RD_KAFKA_RESP_ERR__DESTROY),
            (.assignmentLost, RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST),
            (.noOffset, RD_KAFKA_RESP_ERR__NO_OFFSET),
            (.partitionEOF, RD_KAFKA_RESP_ERR__PARTITION_EOF),
            (.unsupportedFeature, RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE),
            (.invalidState, RD_KAFKA_RESP_ERR__STATE),
            (.waitingForCoordinator, RD_KAFKA_RESP_ERR__WAIT_COORD),
            (.badMessage, RD_KAFKA_RESP_ERR__BAD_MSG),
            (.unknown, RD_KAFKA_RESP_ERR_UNKNOWN),
            (.offsetOutOfRange, RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE),
            (.unknownTopicOrPartition, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
            (.messageSizeTooLarge, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE),
            (.leaderNotAvailable, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE),
            (.notLeaderForPartition, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION),
            (.requestTimedOut, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT),
            (.networkException, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION),
            (.coordinatorLoadInProgress, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS),
            (.coordinatorNotAvailable, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE),
            (.notCoordinator, RD_KAFKA_RESP_ERR_NOT_COORDINATOR),
            (.notEnoughReplicas, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS),
            (.notEnoughReplicasAfterAppend, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND),
            (.rebalanceInProgress, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS),
            (.topicAuthorizationFailed, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            (.topicAlreadyExists, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS),
            (.invalidPartitions, RD_KAFKA_RESP_ERR_INVALID_PARTITIONS),
            (.invalidReplicationFactor, RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR),
            (.invalidConfig, RD_KAFKA_RESP_ERR_INVALID_CONFIG),
            (.notController, RD_KAFKA_RESP_ERR_NOT_CONTROLLER),
            (.outOfOrderSequenceNumber, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER),
            (.unknownProducerID, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID),
            (.kafkaStorageError, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR),
        ]
        for (code, raw) in pairs {
            #expect(code.rawValue == raw.rawValue, "\(code.name)")
        }
    }

    @Test("names round-trip through librdkafka's table and KafkaKit's own")
    func namesRoundTrip() {
        #expect(KafkaError.Code.notLeaderForPartition.name == "NOT_LEADER_FOR_PARTITION")
        #expect(KafkaError.Code.messageTimedOut.name == "_MSG_TIMED_OUT")
        #expect(KafkaError.Code(name: "NOT_LEADER_FOR_PARTITION") == .notLeaderForPartition)
        #expect(KafkaError.Code(name: "request_timed_out") == .requestTimedOut)
        #expect(KafkaError.Code(name: "_TRANSPORT") == .transport)
        #expect(KafkaError.Code(name: "TRANSPORT") == .transport)
        #expect(KafkaError.Code(name: "DRAIN_TIMED_OUT") == .drainTimedOut)
        #expect(KafkaError.Code(name: "NO_SUCH_ERROR") == nil)
        for code in [KafkaError.Code.shutdown, .noController, .invalidConfiguration, .topicAlreadyExists, .fatal] {
            #expect(KafkaError.Code(name: code.name) == code)
        }
        #expect(KafkaError.Code.shutdown.isKafkaKitCode)
        #expect(!KafkaError.Code.fatal.isKafkaKitCode)
    }

    @Test("retriable and fatal classification")
    func classification() {
        for code in [KafkaError.Code.notLeaderForPartition, .requestTimedOut, .messageTimedOut, .transport,
                     .allBrokersDown, .notEnoughReplicas, .leaderNotAvailable, .notCoordinator] {
            #expect(code.isRetriable, "\(code.name)")
            #expect(!code.isFatal, "\(code.name)")
        }
        for code in [KafkaError.Code.topicAuthorizationFailed, .messageSizeTooLarge, .invalidConfiguration,
                     .fatal, .drainTimedOut, .shutdown] {
            #expect(!code.isRetriable, "\(code.name)")
        }
        #expect(KafkaError.Code.fatal.isFatal)
        let error = KafkaError(code: .messageTimedOut)
        #expect(error.isRetriable && !error.isFatal)
        let overridden = KafkaError(code: .outOfOrderSequenceNumber, message: "x", isRetriable: false, isFatal: true)
        #expect(overridden.isFatal && !overridden.isRetriable)
    }

    @Test("mapping from librdkafka response codes keeps code and description")
    func mappingFromLibrdkafka() {
        let error = KafkaError(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, context: "produce")
        #expect(error.code == .notLeaderForPartition)
        #expect(error.message.hasPrefix("produce: "))
        #expect(error.message.lowercased().contains("leader"))
        #expect(error.isRetriable)
        #expect("\(error)".contains("NOT_LEADER_FOR_PARTITION"))
        #expect("\(error)".contains("retriable"))

        let fatal = KafkaError(RD_KAFKA_RESP_ERR__FATAL)
        #expect(fatal.code == .fatal && fatal.isFatal && !fatal.isRetriable)
    }

    @Test("configuration errors are typed")
    func configurationErrors() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.acknowledgements = .leader
        #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration, logger: TestSupportLogger.logger) }
        do {
            _ = try KafkaProducer(configuration: configuration, logger: TestSupportLogger.logger)
        } catch {
            #expect(error.code == .invalidConfiguration)
        }

        var bogus = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        bogus.additionalProperties["no.such.property"] = "1"
        do {
            _ = try KafkaProducer(configuration: bogus, logger: TestSupportLogger.logger)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("no.such.property"))
        }
    }

    @Test("producer configuration maps to librdkafka properties")
    func producerProperties() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["a:1", "b:2"])
        configuration.linger = .milliseconds(20)
        configuration.additionalProperties["linger.ms"] = "7"
        let properties = try configuration.librdkafkaProperties()
        #expect(properties["bootstrap.servers"] == "a:1,b:2")
        #expect(properties["enable.idempotence"] == "true")
        #expect(properties["acks"] == "all")
        #expect(properties["partitioner"] == "murmur2_random")
        #expect(properties["linger.ms"] == "7")  // escape hatch wins
        #expect(properties["message.timeout.ms"] == "30000")
    }
}

@Suite("Value types")
struct ValueTypeTests {
    @Test("catch-up tracker completes once every partition reached its high watermark")
    func catchUpTracker() {
        var tracker = KafkaCatchUpTracker(targets: [0: 3, 1: 0, 2: 5], startOffsets: [0: 0, 1: 0, 2: 5])
        #expect(!tracker.isCaughtUp)
        #expect(tracker.remaining == [0: 3])
        let first = tracker.observe(KafkaConsumerMessage(topic: "t", partition: 0, offset: 1, value: nil))
        #expect(!first)
        let second = tracker.observe(KafkaConsumerMessage(topic: "t", partition: 0, offset: 2, value: nil))
        #expect(second)
        #expect(tracker.isCaughtUp)
        let third = tracker.observe(KafkaConsumerMessage(topic: "t", partition: 0, offset: 3, value: nil))
        #expect(!third)

        let empty = KafkaCatchUpTracker(targets: [0: 0], startOffsets: [:])
        #expect(empty.isCaughtUp)
        var positions = KafkaCatchUpTracker(targets: [0: 10], startOffsets: [0: 2])
        let caughtUp = positions.observe(positions: [0: 10])
        #expect(caughtUp)
    }

    @Test("delivery tracker packs batch ids and indexes into the opaque")
    func opaquePacking() {
        let opaque = DeliveryTracker.opaque(batch: 12345, index: 678)
        #expect(opaque & DeliveryTracker.batchFlag != 0)
        #expect((opaque & ~DeliveryTracker.batchFlag) >> DeliveryTracker.batchIndexBits == 12345)
        #expect(opaque & ((1 << DeliveryTracker.batchIndexBits) - 1) == 678)
    }

    @Test("delivery tracker resumes singles and batches, including reports that arrive first")
    func deliveryTracker() async throws {
        let tracker = DeliveryTracker()
        let id = tracker.registerSingle(topic: "t")!
        tracker.deliver([.init(opaque: id, error: nil, partition: 1, offset: 42, timestamp: nil)])
        let early = await tracker.awaitSingle(id)
        #expect(try early.get() == KafkaDeliveryReport(topic: "t", partition: 1, offset: 42))

        let batch = tracker.registerBatch([KafkaRecord(topic: "a", key: nil, value: "1"), KafkaRecord(topic: "b", key: nil, value: "2")])!
        tracker.deliver([.init(opaque: DeliveryTracker.opaque(batch: batch, index: 1), error: KafkaError(code: .messageTimedOut),
            partition: 0, offset: -1, timestamp: nil)])
        async let results = tracker.awaitBatch(batch)
        tracker.deliver([.init(opaque: DeliveryTracker.opaque(batch: batch, index: 0), error: nil, partition: 3,
            offset: 7, timestamp: nil)])
        let outcomes = await results
        #expect(try outcomes[0].get() == KafkaDeliveryReport(topic: "a", partition: 3, offset: 7))
        #expect(throws: KafkaError.self) { try outcomes[1].get() }

        tracker.stopAcceptingSends()
        #expect(tracker.registerSingle(topic: "t") == nil)
    }

    @Test("offsets describe themselves")
    func offsets() {
        #expect(KafkaOffset.beginning.description == "beginning")
        #expect(KafkaOffset.offset(5).isConcrete)
        #expect(!KafkaOffset.committed.isConcrete)
    }
}

enum TestSupportLogger {
    static let logger = TestLoggerFactory.make("kafkakit.unit")
}
