/// The timestamp Kafka stores with each record.
public struct KafkaTimestamp: Sendable, Hashable {
    /// Who set the timestamp.
    public enum Kind: Sendable, Hashable {
        /// The producer set it when creating the record.
        case createTime
        /// The broker set it when appending the record (`message.timestamp.type=LogAppendTime`).
        case logAppendTime
    }

    /// Who set the timestamp.
    public var kind: Kind
    /// Milliseconds since the Unix epoch.
    public var millisecondsSince1970: Int64

    /// Creates a timestamp.
    public init(kind: Kind, millisecondsSince1970: Int64) {
        self.kind = kind
        self.millisecondsSince1970 = millisecondsSince1970
    }
}
