internal import CRdKafka
import Logging

/// librdkafka's in-process mock cluster (`rdkafka_mock.h`, an experimental API in 2.0.2) and
/// the throwaway producer handle it needs for bookkeeping.
///
/// `@unchecked Sendable`: mock cluster calls are forwarded as operations to the cluster's own
/// thread, so they are safe from any thread; the pointers are released only in `deinit`.
final class RDKafkaMockCluster: @unchecked Sendable {
    private let host: RDKafkaClient
    private let cluster: SendablePointer
    let bootstrapServers: String

    init(brokers: Int32, logger: Logger) throws(KafkaError) {
        // The host handle never connects anywhere. Its notices (e.g. "no bootstrap.servers") are
        // noise, so it logs errors only unless the logger asks for debug output; the mock brokers
        // log through it too.
        let librdkafkaLogLevel = logger.logLevel <= .debug ? "7" : "3"
        self.host = try RDKafkaClient(
            kind: .producer, properties: ["log_level": librdkafkaLogLevel, "client.id": "vane-dev-kafka"],
            context: RDKafkaClientContext(logger: logger))
        guard let cluster = rd_kafka_mock_cluster_new(self.host.handle.raw, brokers) else {
            throw KafkaError(code: .developmentClusterFailed, message: "rd_kafka_mock_cluster_new failed (see log)")
        }
        self.cluster = SendablePointer(cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        // The cluster must go before its host handle, which RDKafkaClient destroys afterwards.
        rd_kafka_mock_cluster_destroy(self.cluster.raw)
    }

    func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32) throws(KafkaError) {
        try Self.check(rd_kafka_mock_topic_create(self.cluster.raw, name, partitions, replicationFactor), "create topic \(name)")
    }

    func setBrokerDown(_ broker: Int32) throws(KafkaError) {
        try Self.check(rd_kafka_mock_broker_set_down(self.cluster.raw, broker), "set broker \(broker) down")
    }

    func setBrokerUp(_ broker: Int32) throws(KafkaError) {
        try Self.check(rd_kafka_mock_broker_set_up(self.cluster.raw, broker), "set broker \(broker) up")
    }

    func setRoundTripTime(_ broker: Int32, milliseconds: Int32) throws(KafkaError) {
        try Self.check(rd_kafka_mock_broker_set_rtt(self.cluster.raw, broker, milliseconds), "set broker \(broker) rtt")
    }

    func setPartitionLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try Self.check(
            rd_kafka_mock_partition_set_leader(self.cluster.raw, topic, partition, broker),
            "set leader of \(topic)[\(partition)]")
    }

    func pushRequestErrors(apiKey: Int16, codes: [Int32]) {
        let errors = codes.map { rd_kafka_resp_err_t(rawValue: $0) }
        errors.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(self.cluster.raw, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(self.cluster.raw, apiKey)
    }

    private static func check(_ err: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: what) }
    }
}
