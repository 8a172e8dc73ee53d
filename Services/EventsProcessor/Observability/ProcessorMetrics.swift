import Prometheus
import ServiceKit

/// The processor's Prometheus metrics (in the service's own registry).
struct ProcessorMetrics: Sendable {
    let records: Counter
    let recordsAlreadyProcessed: Counter
    let recordsReplaySkipped: Counter
    let duplicatePayloads: Counter
    let malformedRecords: Counter
    let events: Counter
    let malformedEvents: Counter
    let eventsWithoutContext: Counter
    let lateEvents: Counter
    let chunkDuration: DurationHistogram
    let finalizedContexts: Counter
    let probedContexts: Counter
    let finalizeDuration: DurationHistogram
    let sessionRestarts: Counter

    init(_ metrics: ServiceMetrics) {
        records = metrics.counter("processor_records", help: "vane.events.raw records consumed and committed.")
        recordsAlreadyProcessed = metrics.counter(
            "processor_records_already_processed", help: "Records redelivered below a partition's stored offset (not counted again).")
        recordsReplaySkipped = metrics.counter(
            "processor_records_replay_skipped", help: "Records a replay re-read but did not recount (received before its start).")
        duplicatePayloads = metrics.counter("processor_duplicate_payloads", help: "Records whose payload id was already counted.")
        malformedRecords = metrics.counter("processor_malformed_records", help: "Records that are not valid events records (skipped).")
        events = metrics.counter("processor_events", help: "SDK events in counted records.")
        malformedEvents = metrics.counter("processor_malformed_events", help: "Events skipped for a missing or mistyped field.")
        eventsWithoutContext = metrics.counter(
            "processor_events_without_context", help: "Feature and custom events without a usable context (not correlated).")
        lateEvents = metrics.counter(
            "processor_late_events",
            help: "Feature and custom events created longer than the raw retention before receipt (not correlated).")
        chunkDuration = metrics.durationHistogram(
            "processor_chunk_duration", help: "Parsing and committing one chunk.",
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
        finalizedContexts = metrics.counter("processor_finalized_contexts", help: "Context histories correlated after the delay.")
        probedContexts = metrics.counter(
            "processor_finalization_probed_contexts",
            help: "Correlated contexts whose final rows were read (the others were known to have none).")
        finalizeDuration = metrics.durationHistogram(
            "processor_finalize_duration", help: "One finalization transaction.",
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
        sessionRestarts = metrics.counter("processor_session_restarts", help: "Consumer sessions restarted (replays, errors).")
    }

    func record(_ commit: ChunkCommit, duration: Duration) {
        records.increment(by: Int64(commit.records))
        recordsAlreadyProcessed.increment(by: Int64(commit.alreadyProcessed))
        recordsReplaySkipped.increment(by: Int64(commit.replaySkipped))
        duplicatePayloads.increment(by: Int64(commit.duplicatePayloads))
        malformedRecords.increment(by: Int64(commit.malformedRecords))
        events.increment(by: Int64(commit.statistics.events))
        malformedEvents.increment(by: Int64(commit.statistics.malformedEvents))
        eventsWithoutContext.increment(by: Int64(commit.statistics.eventsWithoutContext))
        lateEvents.increment(by: Int64(commit.statistics.lateEvents))
        chunkDuration.record(duration)
    }

    func recordFinalization(contexts: Int, probed: Int, duration: Duration) {
        finalizedContexts.increment(by: Int64(contexts))
        probedContexts.increment(by: Int64(probed))
        finalizeDuration.record(duration)
    }
}
