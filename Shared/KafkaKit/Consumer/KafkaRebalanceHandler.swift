/// Hooks a ``KafkaConsumer`` calls when the group assigns or revokes partitions.
///
/// Both hooks run in the task that iterates ``KafkaConsumer/messages``, between two messages, so
/// they never race with message processing. Messages of newly assigned partitions are fetched only
/// after ``onAssign`` returned, so a service that keeps its offsets elsewhere (say, in PostgreSQL
/// next to the data it derives) never sees a message from the wrong position:
///
/// ```swift
/// let handler = KafkaRebalanceHandler(onAssign: { partitions in
///     var start: [KafkaTopicPartition: KafkaOffset] = [:]
///     for partition in partitions {
///         if let next = try await offsetStore.nextOffset(for: partition) { start[partition] = .offset(next) }
///     }
///     return start   // partitions left out start at the group's committed offset
/// })
/// ```
///
/// The consumer's `max.poll.interval.ms` keeps running while a hook runs.
public struct KafkaRebalanceHandler: Sendable {
    /// Called with newly assigned partitions (with the cooperative strategy, only the added ones).
    /// Returns where to start in any of them; the others start at the group's committed offset,
    /// or at ``KafkaConsumerConfiguration/offsetReset`` without one. If it throws, the consumer's
    /// message sequence fails with ``KafkaError/Code/rebalanceHandlerFailed``.
    public var onAssign: @Sendable ([KafkaTopicPartition]) async throws -> [KafkaTopicPartition: KafkaOffset]
    /// Called after partitions were revoked. Offsets stored with
    /// ``KafkaConsumer/storeOffset(for:)`` were committed synchronously before the revocation,
    /// unless the partitions were lost (session timeout), in which case no commit is possible.
    public var onRevoke: @Sendable ([KafkaTopicPartition]) async -> Void

    /// Creates a handler; both hooks default to doing nothing.
    public init(
        onAssign: @escaping @Sendable ([KafkaTopicPartition]) async throws -> [KafkaTopicPartition: KafkaOffset] = { _ in [:] },
        onRevoke: @escaping @Sendable ([KafkaTopicPartition]) async -> Void = { _ in }
    ) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
    }
}
