import AsyncAlgorithms
import Foundation
import KafkaKit
import Logging
import ModelsCore
import Synchronization

/// What the processing loop receives: a consumed message, a clock tick, or the end of the
/// message stream.
enum LoopInput: Sendable {
    case message(ConsumedRecord)
    case tick
    case end
    /// The message stream failed (a fatal Kafka error or a failed rebalance hook).
    case failed(any Error)
}

/// The epoch under which each partition's start offset was read (from `analytics.consumer_offsets`).
final class PartitionEpochs: Sendable {
    private let epochs = Mutex<[Int32: Int64]>([:])

    init(_ initial: [Int32: Int64] = [:]) {
        epochs.withLock { $0 = initial }
    }

    func set(_ partition: Int32, _ epoch: Int64) { epochs.withLock { $0[partition] = epoch } }
    func remove(_ partitions: [Int32]) { epochs.withLock { for p in partitions { $0[p] = nil } } }
    var snapshot: [Int32: Int64] { epochs.withLock { $0 } }
}

/// A chunk commit running in its own task, while the loop collects the next chunk.
final class CommitInFlight: Sendable {
    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    let task: Task<Void, any Error>
    private let finished: Flag

    init(_ body: @escaping @Sendable () async throws -> Void) {
        let finished = Flag()
        self.finished = finished
        task = Task {
            defer { finished.value.store(true, ordering: .releasing) }
            try await body()
        }
    }

    /// Whether the commit ended (awaiting ``task`` then returns at once).
    var isFinished: Bool { finished.value.load(ordering: .acquiring) }
}

/// Settings of the chunking loop.
struct LoopSettings: Sendable {
    /// A chunk is committed at this many records…
    var chunkMaxRecords: Int
    /// …or this many bytes of record values…
    var chunkMaxBytes: Int
    /// …or when its first record waited this long.
    var chunkMaxAge: Duration
    /// How often due exposures and goals are correlated.
    var finalizeInterval: Duration
    /// Due exposure rows and due goal rows read per finalization transaction: their contexts are correlated (so up
    /// to twice this many contexts).
    var finalizeBatchContexts: Int
    /// How often the partitions' epochs are compared with the stored ones (to notice a replay
    /// while idle); `nil` disables the check.
    var epochCheckInterval: Duration?
    /// How often raw state is pruned; `nil` disables pruning.
    var pruneInterval: Duration?
}

/// Turns consumed records into chunk commits, checks epochs and prunes on a timer; correlation of
/// due events runs next to it (see ``consume(_:epochs:isDone:)``).
struct ChunkingLoop: Sendable {
    let store: AnalyticsStore
    let settings: LoopSettings
    let metrics: ProcessorMetrics
    let logger: Logger

    /// Processes `inputs` until `.end` (committing what is pending) or until `isDone` says so
    /// (checked after each commit and on ticks). `dueNow` is called after a commit that wrote exposures or goals
    /// already due for correlation.
    ///
    /// Chunks are committed one at a time, in order, but the next chunk is collected, aggregated and sorted while the
    /// previous one commits (the processor's work then overlaps PostgreSQL's instead of holding the transaction open).
    ///
    /// - Throws: ``ProcessorError/epochChanged(partition:expected:found:)`` when a replay rewound a
    ///   partition; storage errors.
    func run(
        _ inputs: some AsyncSequence<LoopInput, Never>, epochs: PartitionEpochs,
        isDone: @Sendable () async throws -> Bool = { false }, dueNow: @escaping @Sendable () -> Void = {}
    ) async throws {
        let clock = ContinuousClock()
        var pending: [ConsumedRecord] = []
        var pendingBytes = 0
        var pendingSince: ContinuousClock.Instant?
        var lastEpochCheck = clock.now
        // The first prune waits a full interval: a process that restarts often still prunes, and
        // short-lived test and replay runs never do.
        var lastPrune = clock.now
        var inFlight: CommitInFlight?

        /// Waits for the chunk being committed, if any; rethrows its error.
        func settle() async throws {
            guard let commit = inFlight else { return }
            inFlight = nil
            try await commit.task.value
        }

        func flush() async throws {
            guard !pending.isEmpty else { return }
            let prepared = store.prepare(pending)
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            pendingSince = nil
            try await settle()
            inFlight = CommitInFlight { [self] in try await commit(prepared, epochs: epochs, dueNow: dueNow) }
        }

        do {
            for await input in inputs {
                switch input {
                case .message(let message):
                    if pending.isEmpty { pendingSince = clock.now }
                    pending.append(message)
                    pendingBytes += message.bytes
                    if pending.count >= settings.chunkMaxRecords || pendingBytes >= settings.chunkMaxBytes {
                        // The previous chunk is committed once this one is handed over: its outcome counts for isDone.
                        try await flush()
                        if try await isDone() { return try await settle() }
                    }
                case .tick:
                    let now = clock.now
                    if let since = pendingSince, now - since >= settings.chunkMaxAge {
                        try await flush()
                    }
                    if let interval = settings.epochCheckInterval, now - lastEpochCheck >= interval {
                        try await checkEpochs(epochs)
                        lastEpochCheck = now
                    }
                    if let interval = settings.pruneInterval, now - lastPrune >= interval {
                        try await store.prune(now: Self.wallClock())
                        lastPrune = clock.now
                    }
                    // A commit still running is left alone (waiting for it here would stop the overlap); isDone is
                    // asked again on a later tick.
                    if let commit = inFlight, commit.isFinished { try await settle() }
                    if inFlight == nil, try await isDone() { return }
                case .end:
                    try await flush()
                    return try await settle()
                case .failed(let error):
                    throw error
                }
            }
            try await flush()
            try await settle()
        } catch {
            // Never leave a commit running behind the caller's back (the session ends or restarts after this).
            if let commit = inFlight { _ = try? await commit.task.value }
            throw error
        }
    }

    /// Commits one chunk; calls `dueNow` if it wrote exposures or goals whose correlation delay has already passed.
    func commit(_ prepared: PreparedChunk, epochs: PartitionEpochs, dueNow: @Sendable () -> Void = {}) async throws {
        let started = ContinuousClock.now
        // Records of partitions revoked meanwhile belong to their next owner, which starts from
        // the stored offset; committing them here would only race it.
        let epochs = epochs.snapshot
        var prepared = prepared
        if prepared.records.contains(where: { epochs[$0.partition] == nil }) {
            prepared = store.prepare(prepared.records.filter { epochs[$0.partition] != nil })
        }
        guard !prepared.records.isEmpty else { return }
        let outcome = try await store.commit(prepared, epochs: epochs)
        metrics.record(outcome, duration: ContinuousClock.now - started)
        if let due = outcome.earliestDue, due <= Self.wallClock() { dueNow() }
        logger.debug(
            "chunk committed",
            metadata: ["records": "\(outcome.records)", "counted": "\(outcome.counted)", "events": "\(outcome.statistics.events)",
                       "alreadyProcessed": "\(outcome.alreadyProcessed)", "duplicates": "\(outcome.duplicatePayloads)",
                       "duration": "\(ContinuousClock.now - started)"])
    }

    /// Correlates what is due now, one batch of contexts per transaction, for at most `budget`
    /// (the rest waits for the next tick, so that a large backlog never stops consumption for
    /// long); `nil` correlates everything.
    func finalizeDue(budget: Duration? = .seconds(2)) async throws {
        let now = Self.wallClock()
        let clock = ContinuousClock()
        let deadline = budget.map { clock.now + $0 }
        while true {
            let started = clock.now
            let round = try await store.finalizeDue(now: now, contextLimit: settings.finalizeBatchContexts)
            if round.contexts > 0 {
                metrics.recordFinalization(contexts: round.contexts, probed: round.probedContexts, duration: clock.now - started)
            }
            if !round.more { return }
            if let deadline, clock.now >= deadline { return }
        }
    }

    private func checkEpochs(_ epochs: PartitionEpochs) async throws {
        let known = epochs.snapshot
        guard !known.isEmpty else { return }
        let stored = try await store.positions(partitions: Array(known.keys))
        for (partition, epoch) in known where (stored[partition]?.epoch ?? 0) != epoch {
            throw ProcessorError.epochChanged(partition: partition, expected: epoch, found: stored[partition]?.epoch ?? 0)
        }
    }

    /// Now, in Unix milliseconds (the clock "due" times are compared with).
    static func wallClock() -> UnixMilliseconds {
        UnixMilliseconds((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

extension ChunkingLoop {
    /// Reads `messages` in a child task (parsing and extracting each record there), correlates
    /// due events every ``LoopSettings/finalizeInterval`` in another, and runs the loop over the
    /// records and a 100 ms tick, until the messages end, the loop is done, or something throws.
    func consume(
        _ messages: KafkaConsumerMessages, epochs: PartitionEpochs,
        isDone: @escaping @Sendable () async throws -> Bool = { false }
    ) async throws {
        let channel = AsyncChannel<LoopInput>()
        let ticks = AsyncTimerSequence(interval: .milliseconds(100), clock: .continuous).map { _ in LoopInput.tick }
        let extraction = store.extraction
        // Correlation rounds start every finalizeInterval, and at once after a commit that wrote rows already due
        // (a processor catching up on a backlog older than the delay, or a delay of 0): waiting for the next tick
        // would leave the correlation up to an interval behind the commits. Wake-ups coalesce while a round runs.
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: settings.finalizeInterval)
                    wake.yield()
                }
                wake.finish()
            }
            // The filter of contexts with final rows (see FinalizedContexts) is built at once, and again when it became
            // unusable or too full; rounds meanwhile probe every context.
            group.addTask {
                while !Task.isCancelled {
                    if store.finalized.claimBuild(now: .now) {
                        do {
                            let started = ContinuousClock.now
                            let built = try await store.buildFinalizedContexts()
                            store.finalized.finishBuild(built)
                            logger.debug("finalized-contexts filter built", metadata: [
                                "contexts": "\(built.filter.count)", "generation": "\(built.generation)",
                                "duration": "\(ContinuousClock.now - started)"])
                        } catch {
                            store.finalized.finishBuild(nil)
                            if !Task.isCancelled {
                                logger.warning("building the finalized-contexts filter failed", metadata: ["error": "\(error)"])
                            }
                        }
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            // Correlation runs on its own connection, alongside the commits.
            group.addTask {
                for await _ in wakeups {
                    if Task.isCancelled { return }
                    do {
                        try await finalizeDue()
                    } catch {
                        await channel.send(.failed(error))
                        return
                    }
                }
            }
            group.addTask {
                do {
                    // Parsing and extraction happen here, overlapping with the loop's commits.
                    for try await message in messages {
                        await channel.send(.message(ConsumedRecord(message, extraction: extraction)))
                    }
                    await channel.send(.end)
                } catch {
                    await channel.send(.failed(error))
                }
            }
            // The loop runs here, not in a child task: it must finish its last commit even when
            // the reader ends first; afterwards the reader is cancelled.
            defer { group.cancelAll() }
            // The buffer lets the reader run up to a chunk ahead while the loop commits.
            let records = channel.buffer(policy: .bounded(settings.chunkMaxRecords))
            try await run(merge(records, ticks), epochs: epochs, isDone: isDone, dueNow: { wake.yield() })
        }
    }
}
