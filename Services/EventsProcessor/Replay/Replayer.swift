import Foundation
import KafkaKit
import Logging
import PostgresNIO

/// `events-processor replay --from <time>`: recounts everything received from that hour on.
///
/// 1. Rewind (one transaction, see ``AnalyticsStore/rewind(receivedFrom:partitions:)``): every
///    aggregate contribution of records received at or after the hour is subtracted, their raw
///    state deleted, and every partition's stored offset set back to its start under a new epoch;
///    records counted earlier and received before the hour will be skipped while re-reading.
/// 2. Re-read: this command reads every partition from the start (group-less) and commits chunks
///    exactly like the processor, until the stored offsets reach the high watermarks seen at the
///    start. Running processors notice the new epoch, rejoin their group and re-read too; offsets
///    fence the two, so every record is counted once, by whoever commits it first.
/// 3. Correlate what is due, so that the tables are complete when the command exits (events
///    received within the last correlation delay stay pending for the processors).
///
/// Running it twice, or after a crash half-way, gives the same tables: a rewind always restarts
/// from the stored state, never from what a previous run did in memory.
struct Replayer {
    let settings: ProcessorSettings
    let logger: Logger

    struct Summary: Sendable {
        var receivedFrom: UnixMilliseconds
        var partitions: Int
        var retractedContexts: Int
    }

    func run(from requested: UnixMilliseconds) async throws -> Summary {
        let application = ProcessorApplication(settings: settings, logger: logger)
        let postgres = application.makePostgres()
        let store = application.makeStore(postgres)
        let metrics = ProcessorMetrics(.init())
        do {
            let summary = try await replay(from: requested, postgres: postgres, store: store, metrics: metrics)
            await store.close()
            return summary
        } catch {
            await store.close()
            throw error
        }
    }

    private func replay(
        from requested: UnixMilliseconds, postgres: PostgresClient, store: AnalyticsStore, metrics: ProcessorMetrics
    ) async throws -> Summary {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await postgres.run() }
            defer { group.cancelAll() }
            try await AnalyticsMigrations.apply(client: postgres, logger: logger)

            let readerConfiguration = settings.kafka.topicReader(
                clientID: "vane-events-processor-replay", topic: settings.eventsTopic, startPosition: .earliest)
            let reader = try KafkaTopicReader(configuration: readerConfiguration, logger: logger)
            let targets = try await reader.highWatermarks()
            let rewind = try await store.rewind(receivedFrom: requested.hourStart, partitions: Array(targets.keys))
            logger.info(
                "rewound",
                metadata: ["receivedFrom": "\(AnalyticsStore.format(rewind.receivedFrom))", "targets": "\(targets)",
                           "retractedContexts": "\(rewind.retractedContexts)"])
            try await reader.start()

            let epochs = PartitionEpochs(rewind.positions.mapValues(\.epoch))
            let loop = ChunkingLoop(store: store, settings: settings.loopSettings(serving: false), metrics: metrics, logger: logger)
            let caughtUp: @Sendable () async throws -> Bool = {
                let positions = try await store.positions(partitions: Array(targets.keys))
                for (partition, target) in targets where target > 0 {
                    guard let position = positions[partition] else { return false }
                    if position.epoch != rewind.positions[partition]?.epoch {
                        throw ProcessorError.epochChanged(
                            partition: partition, expected: rewind.positions[partition]?.epoch ?? 0, found: position.epoch)
                    }
                    if position.nextOffset < target { return false }
                }
                return true
            }
            if try await !caughtUp() {
                try await loop.consume(reader.messages, epochs: epochs, isDone: caughtUp)
            }
            try await reader.close()
            try await loop.finalizeDue(budget: nil)
            return Summary(receivedFrom: rewind.receivedFrom, partitions: targets.count, retractedContexts: rewind.retractedContexts)
        }
    }

    /// Parses an RFC 3339 timestamp (fractional seconds optional) into Unix milliseconds.
    static func parseTime(_ text: String) -> UnixMilliseconds? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return UnixMilliseconds((date.timeIntervalSince1970 * 1000).rounded(.down)) }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return UnixMilliseconds((date.timeIntervalSince1970 * 1000).rounded(.down)) }
        return nil
    }
}
