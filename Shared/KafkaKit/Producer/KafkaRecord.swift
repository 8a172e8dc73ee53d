/// A record to produce.
public struct KafkaRecord: Sendable, Hashable {
    /// The destination topic.
    public var topic: String
    /// An explicit partition, or `nil` to let the producer's partitioner choose from the key
    /// (see ``KafkaProducerConfiguration/partitioner``).
    public var partition: Int32?
    /// The key; `nil` for a record without a key.
    public var key: [UInt8]?
    /// The value; `nil` is a tombstone, which deletes the key from a compacted topic.
    public var value: [UInt8]?
    /// Headers, in order.
    public var headers: [KafkaHeader]

    /// Creates a record with binary key and value.
    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// Creates a record with UTF-8 string key and value.
    public init(topic: String, partition: Int32? = nil, key: String?, value: String?, headers: [KafkaHeader] = []) {
        self.init(
            topic: topic, partition: partition, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) },
            headers: headers)
    }
}
