/// The broker's acknowledgement of one produced record.
public struct KafkaDeliveryReport: Sendable, Hashable {
    /// The topic the record was written to.
    public var topic: String
    /// The partition the record was written to.
    public var partition: Int32
    /// The record's offset in the partition. The idempotent producer may report `-1` for a record
    /// that was written by an earlier attempt whose acknowledgement was lost (librdkafka documents
    /// this); the record is still stored exactly once.
    public var offset: Int64
    /// The record's timestamp, when known.
    public var timestamp: KafkaTimestamp?

    /// Creates a delivery report.
    public init(topic: String, partition: Int32, offset: Int64, timestamp: KafkaTimestamp? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }
}
