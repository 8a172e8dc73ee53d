internal import CRdKafka

/// Conversions between Swift partition values and `rd_kafka_topic_partition_list_t`.
///
/// Lists are created and destroyed within one call (`withList`), never stored: they are not
/// thread-safe and librdkafka owns the lists it passes to callbacks.
enum RDKafkaTopicPartitionList {
    typealias ListPointer = UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Builds a temporary list, calls `body`, destroys the list.
    static func withList<R>(
        _ entries: [(KafkaTopicPartition, Int64)], _ body: (ListPointer) throws(KafkaError) -> R
    ) throws(KafkaError) -> R {
        let list = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (topicPartition, offset) in entries {
            rd_kafka_topic_partition_list_add(list, topicPartition.topic, topicPartition.partition).pointee.offset = offset
        }
        return try body(list)
    }

    /// Copies a list's topic-partitions.
    static func partitions(of list: ListPointer?) -> [KafkaTopicPartition] {
        self.entries(of: list).map(\.topicPartition)
    }

    struct Entry {
        var topicPartition: KafkaTopicPartition
        var offset: Int64
        var error: rd_kafka_resp_err_t
    }

    /// Copies a list's entries.
    static func entries(of list: ListPointer?) -> [Entry] {
        guard let list, list.pointee.cnt > 0, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elements[index]
            return Entry(
                topicPartition: KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                offset: element.offset,
                error: element.err)
        }
    }

    /// The first per-partition error of a list, if any.
    static func firstError(of list: ListPointer, context: String) -> KafkaError? {
        for entry in self.entries(of: list) where entry.error != RD_KAFKA_RESP_ERR_NO_ERROR {
            return KafkaError(entry.error, context: "\(context) \(entry.topicPartition)")
        }
        return nil
    }
}
