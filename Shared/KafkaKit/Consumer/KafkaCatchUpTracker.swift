/// Tracks whether a reader has caught up with the high watermarks it saw when it started.
///
/// A relay that rebuilds state from a topic is "ready" once it has applied every message that
/// existed when it started. ``KafkaTopicReader/start()`` returns a tracker holding those targets;
/// feed it every message:
///
/// ```swift
/// var catchUp = try await reader.start()
/// if catchUp.isCaughtUp { markReady() }
/// for try await message in reader.messages {
///     apply(message)
///     if catchUp.observe(message) { markReady() }   // true exactly once
/// }
/// ```
public struct KafkaCatchUpTracker: Sendable, Hashable {
    /// Per partition, the offset the reader must reach (the high watermark at start).
    public let targets: [Int32: Int64]
    /// Partitions not yet caught up, with their target.
    public private(set) var remaining: [Int32: Int64]

    /// Creates a tracker.
    ///
    /// - Parameters:
    ///   - targets: High watermark per partition at start.
    ///   - startOffsets: Where reading starts per partition; a partition whose start is already at
    ///     or past its target counts as caught up (empty partitions, readers starting at the end).
    public init(targets: [Int32: Int64], startOffsets: [Int32: Int64]) {
        self.targets = targets
        self.remaining = targets.filter { partition, target in
            target > (startOffsets[partition] ?? 0)
        }
    }

    /// Whether every partition reached its target.
    public var isCaughtUp: Bool { self.remaining.isEmpty }

    /// Records a message; returns `true` only for the message that completes the catch-up.
    @discardableResult
    public mutating func observe(_ message: KafkaConsumerMessage) -> Bool {
        guard let target = self.remaining[message.partition], message.offset + 1 >= target else { return false }
        self.remaining[message.partition] = nil
        return self.remaining.isEmpty
    }

    /// Records positions (next offset per partition, e.g. from ``KafkaTopicReader/positions()``).
    /// Needed only when the last records before a target are not messages the reader sees, such as
    /// transaction markers.
    @discardableResult
    public mutating func observe(positions: [Int32: Int64]) -> Bool {
        guard !self.remaining.isEmpty else { return false }
        for (partition, position) in positions {
            if let target = self.remaining[partition], position >= target { self.remaining[partition] = nil }
        }
        return self.remaining.isEmpty
    }
}
