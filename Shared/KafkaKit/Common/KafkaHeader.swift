/// A Kafka record header: a name with an optional binary value.
public struct KafkaHeader: Sendable, Hashable {
    /// The header name. Kafka allows duplicates; order is preserved.
    public var key: String
    /// The header value; `nil` is a header without a value, distinct from an empty one.
    public var value: [UInt8]?

    /// Creates a header with a binary value.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(key: String, value: String) {
        self.key = key
        self.value = Array(value.utf8)
    }
}
