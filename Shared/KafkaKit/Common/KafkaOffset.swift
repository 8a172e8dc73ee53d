/// A position in a partition: either a concrete offset or one of Kafka's logical offsets.
///
/// Concrete offsets are the offset of the *next* message to read, as Kafka commits them
/// (the last processed message's offset plus one).
public struct KafkaOffset: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The numeric value; negative values are the logical offsets below (librdkafka's values).
    public let rawValue: Int64

    /// Creates an offset from its numeric value.
    public init(rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// A concrete offset.
    public static func offset(_ value: Int64) -> Self {
        Self(rawValue: value)
    }

    /// The oldest message still in the partition (the low watermark).
    public static let beginning = Self(rawValue: -2)
    /// The end of the partition (the high watermark): only messages produced from now on.
    public static let end = Self(rawValue: -1)
    /// The group's committed offset, falling back to `auto.offset.reset` when there is none.
    public static let committed = Self(rawValue: -1000)

    /// Whether this is a concrete (non-negative) offset.
    public var isConcrete: Bool { self.rawValue >= 0 }

    /// A short human-readable form.

    public var description: String {
        switch self {
        case .beginning: "beginning"
        case .end: "end"
        case .committed: "committed"
        default: "\(self.rawValue)"
        }
    }
}
