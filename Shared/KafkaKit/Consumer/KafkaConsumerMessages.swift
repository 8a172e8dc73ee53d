/// The messages of a ``KafkaConsumer`` or ``KafkaTopicReader``, one at a time, in partition order.
///
/// Iterate it from one task at a time. The sequence ends (returns `nil`) when the consumer closes,
/// when the iterating task is cancelled, or when the iterating task runs in a ServiceLifecycle
/// `ServiceGroup` that is shutting down gracefully. So a processing service listed *after* the
/// consumer in the group stops reading first; then the consumer's own ``KafkaConsumer/run()``
/// commits and leaves the group. Messages handed out but not stored are redelivered later. It throws a
/// ``KafkaError`` for fatal consumer errors and failed rebalance handlers; transient broker errors
/// are logged and retried by librdkafka.
///
/// Fetching is pull-based: librdkafka prefetches into its own bounded queue
/// (`queued.max.messages.kbytes`), and this sequence takes up to `pollBatchSize` messages per
/// trip to the consumer's polling thread, so a slow consumer never buffers unboundedly.
public struct KafkaConsumerMessages: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerMessage
    public typealias Failure = KafkaError

    let engine: ConsumerEngine

    /// Creates the iterator; see the type documentation for its rules.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(engine: self.engine)
    }

    /// Iterates a consumer's messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = KafkaConsumerMessage
        public typealias Failure = KafkaError

        let engine: ConsumerEngine

        /// The next message, or `nil` once the consumer is closed or the task is cancelled.
        public mutating func next() async throws(KafkaError) -> KafkaConsumerMessage? {
            try await self.engine.next()
        }

        /// The next message, or `nil` once the consumer is closed or the task is cancelled.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KafkaError) -> KafkaConsumerMessage? {
            try await self.engine.next()
        }
    }
}
