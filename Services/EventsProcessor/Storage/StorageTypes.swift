/// What a partition's row in `analytics.consumer_offsets` says.
struct PartitionPosition: Sendable, Equatable {
    /// The next offset to process; records below it are already counted.
    var nextOffset: Int64
    /// Changes whenever a replay rewinds the topic; a consumer that read its start offsets under
    /// another epoch must start over.
    var epoch: Int64
    /// While a replay re-reads a partition: records below this offset that were received before
    /// ``replayReceivedFrom`` were counted before the replay and are skipped.
    var replayUntil: Int64?
    var replayReceivedFrom: UnixMilliseconds?
}

/// The outcome of committing one chunk.
struct ChunkCommit: Sendable, Equatable {
    var records = 0
    /// Records at offsets already processed (redelivered after a crash or a rebalance).
    var alreadyProcessed = 0
    /// Records a replay skips because they were counted before it and are not being recounted.
    var replaySkipped = 0
    /// Records whose payload id was already counted (SDK retries).
    var duplicatePayloads = 0
    var malformedRecords = 0
    var counted = 0
    var statistics = EventExtraction.Statistics()
    /// When the earliest exposure or goal the chunk wrote is due for correlation (nil: none written).
    var earliestDue: UnixMilliseconds?
}

/// Errors of the processor's storage and consuming parts.
enum ProcessorError: Error, CustomStringConvertible {
    /// A replay rewound a partition this consumer is reading: it must re-read its start offsets.
    case epochChanged(partition: Int32, expected: Int64, found: Int64)
    /// The replay start is before data that pruning already removed.
    case replayBeforeRetention(requested: String, prunedBefore: String)
    /// `analytics.final_rows_generation` has no row (its migration seeds one; someone deleted it).
    case missingFinalRowsGeneration

    var description: String {
        switch self {
        case .epochChanged(let partition, let expected, let found):
            "partition \(partition) was rewound by a replay (epoch \(expected) → \(found))"
        case .replayBeforeRetention(let requested, let prunedBefore):
            "cannot replay from \(requested): raw state before \(prunedBefore) has been pruned (VANE_RAW_RETENTION_HOURS)"
        case .missingFinalRowsGeneration:
            "analytics.final_rows_generation has no row: restore it with INSERT INTO analytics.final_rows_generation VALUES (0)"
        }
    }
}
