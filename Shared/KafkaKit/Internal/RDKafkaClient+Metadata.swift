internal import CRdKafka

/// A Swift copy of `rd_kafka_metadata`.
struct RDKafkaMetadata: Sendable {
    struct Broker: Sendable {
        var id: Int32
        var host: String
        var port: Int32
    }

    struct Partition: Sendable {
        var id: Int32
        var leader: Int32
        var replicas: [Int32]
        var inSyncReplicas: [Int32]
        var error: KafkaError?
    }

    struct Topic: Sendable {
        var name: String
        var partitions: [Partition]
        var error: KafkaError?
    }

    var brokers: [Broker]
    var topics: [Topic]
}

extension RDKafkaClient {
    /// Fetches metadata. Blocking.
    ///
    /// - Parameter topic: A single topic to ask for, or `nil` for all topics. Asking for a single
    ///   topic lets a broker with auto-creation enabled create it (librdkafka producers always
    ///   request auto-creation), so existence checks use `nil`.
    func metadataBlocking(topic: String?, timeout: Duration) throws(KafkaError) -> RDKafkaMetadata {
        var topicHandle: OpaquePointer?
        if let topic { topicHandle = rd_kafka_topic_new(self.handle.raw, topic, nil) }
        defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }

        var metadataPointer: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(
            self.handle.raw, topic == nil ? 1 : 0, topicHandle, &metadataPointer, timeout.clampedMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadataPointer else {
            throw KafkaError(err, context: "metadata request")
        }
        defer { rd_kafka_metadata_destroy(metadataPointer) }
        let metadata = metadataPointer.pointee

        let brokers = (0..<Int(metadata.broker_cnt)).map { index in
            let broker = metadata.brokers[index]
            return RDKafkaMetadata.Broker(id: broker.id, host: String(cString: broker.host), port: broker.port)
        }
        let topics = (0..<Int(metadata.topic_cnt)).map { index in
            let topic = metadata.topics[index]
            let name = String(cString: topic.topic)
            let partitions = (0..<Int(topic.partition_cnt)).map { partitionIndex in
                let partition = topic.partitions[partitionIndex]
                return RDKafkaMetadata.Partition(
                    id: partition.id,
                    leader: partition.leader,
                    replicas: (0..<Int(partition.replica_cnt)).map { partition.replicas[$0] },
                    inSyncReplicas: (0..<Int(partition.isr_cnt)).map { partition.isrs[$0] },
                    error: partition.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(partition.err))
            }
            return RDKafkaMetadata.Topic(
                name: name, partitions: partitions.sorted { $0.id < $1.id },
                error: topic.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(topic.err, context: name))
        }
        return RDKafkaMetadata(brokers: brokers, topics: topics)
    }

    /// Asks the partition leader for its low and high watermarks. Blocking.
    func watermarksBlocking(topic: String, partition: Int32, timeout: Duration) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_query_watermark_offsets(
            self.handle.raw, topic, partition, &low, &high, timeout.clampedMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, context: "watermarks of \(topic)[\(partition)]")
        }
        return (low, high)
    }

    /// The controller's broker id as the cluster reports it, waiting up to `timeout`. Blocking.
    func controllerIDBlocking(timeout: Duration) -> Int32 {
        rd_kafka_controllerid(self.handle.raw, timeout.clampedMilliseconds)
    }
}
