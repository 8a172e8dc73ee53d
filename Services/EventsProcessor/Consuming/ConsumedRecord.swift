import KafkaKit
import ModelsCore

/// A consumed record, parsed and with its events extracted (in the reading task, so that this
/// work overlaps with the previous chunk's database transaction). Whether it counts is decided
/// when its chunk is committed.
struct ConsumedRecord: Sendable {
    /// The batch's identity and receipt time.
    struct Envelope: Sendable {
        var environmentID: String
        var payloadID: String
        var receivedAt: UnixMilliseconds
    }

    var partition: Int32
    var offset: Int64
    /// Size of the record value, for chunk limits.
    var bytes: Int
    /// `nil` when the value is not a valid `EventsRecord`: such records are skipped and counted,
    /// their offsets still advance.
    var envelope: Envelope?
    var contribution: RecordContribution
    var statistics: EventExtraction.Statistics

    /// Parses a consumed message and extracts its events.
    init(_ message: KafkaConsumerMessage, extraction: EventExtraction) {
        partition = message.partition
        offset = message.offset
        bytes = message.value?.count ?? 0
        statistics = EventExtraction.Statistics()
        // Events of kinds extraction ignores are validated but not built (most of parsing's cost in a typical flush).
        if let value = message.value, let parsed = try? JSONParser.parse(value, omitting: EventExtraction.eventFilter),
            let record = try? EventsRecord(json: parsed.value)
        {
            envelope = Envelope(environmentID: record.environmentID, payloadID: record.payloadID,
                receivedAt: UnixMilliseconds(record.receivedAt))
            contribution = extraction.extract(record, omittedEvents: parsed.omitted, statistics: &statistics)
        } else {
            envelope = nil
            contribution = RecordContribution()
        }
    }
}
