import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import ModelsCore
import Synchronization

/// The client's event processor behind a lock, its flush triggers (every `flushInterval`, and as
/// soon as `flushAt` events are queued) and its sender.
///
/// An evaluation of a known flag takes no lock in the common case: it is counted in the flag's
/// ``SummaryCounters``, and its context is found in the ``ContextFilter`` of contexts whose index
/// event was already decided. The lock is taken for what is rare: a context not seen recently, a
/// tracked flag or an experiment (full feature events), debug events, custom and identify events.
final class EventPipeline: Sendable {
    private let processor: Mutex<EventProcessor>
    /// The entries whose counts a flush takes (the client's ``FlagStore/entriesToDrain()``).
    private let countedFlags: @Sendable () -> [FlagEntry]
    private let contexts = ContextFilter()
    /// Unix milliseconds of the first evaluation counted since the last flush (0: none yet).
    private let windowStart = Atomic<Int64>(0)
    private let enabled = Atomic<Bool>(true)
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let sender: EventSender
    private let flushInterval: Duration
    private let logger: Logger
    /// Payloads delivered, dropped after the retry, and events dropped for a full queue (for tests and logs).
    let delivered = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)

    init(
        settings: EventProcessor.Settings, sender: EventSender, flushInterval: Duration, logger: Logger,
        countedFlags: @escaping @Sendable () -> [FlagEntry] = { [] }
    ) {
        processor = Mutex(EventProcessor(settings: settings))
        self.countedFlags = countedFlags
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.sender = sender
        self.flushInterval = flushInterval
        self.logger = logger
    }

    /// False once the events endpoint refused the key.
    @inline(__always) var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Unix milliseconds for event timestamps; on Linux from the coarse real-time clock (a few
    /// nanoseconds, millisecond resolution is all events need).
    static var nowMillis: Int64 {
        #if os(Linux)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        #else
        return Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        #endif
    }

    /// Runs `body` on the processor; wakes the flusher when it says the queue is full enough.
    @inline(__always) func record(_ body: (inout EventProcessor, Int64) -> Bool) {
        guard isEnabled else { return }
        let now = Self.nowMillis
        if processor.withLock({ body(&$0, now) }) { wake.yield() }
    }

    /// Records an evaluation of a known flag: counted without a lock; the lock only when it needs
    /// events (a context not seen recently, a tracked flag, an experiment, debugging).
    @inline(__always)
    func recordEvaluation(
        _ entry: FlagEntry, detail: EvaluationDetail, context: EvaluationContext, defaultValue: JSONValue, withReason: Bool,
        prereqOf: String?
    ) {
        guard isEnabled else { return }
        // Only the entry's own fields on this path: loading `entry.compiled` would cost reference counting.
        if entry.countsInSummary {
            entry.record(variation: detail.variationIndex, context: context, defaultValue: defaultValue)
            if windowStart.load(ordering: .relaxed) == 0 {
                _ = windowStart.compareExchange(expected: 0, desired: Self.nowMillis, ordering: .relaxed)
            }
        }
        guard entry.recordsEvents || (entry.mayBeExperiment && entry.compiled.isExperiment(detail.reason))
            || !contexts.contains(context.fullyQualifiedKeyHash)
        else { return }
        let flag = entry.compiled
        recordEvents(
            EvaluationRecord(flagKey: flag.key, flag: flag, context: context, detail: detail, defaultValue: defaultValue,
                             withReason: withReason, prereqOf: prereqOf))
    }

    /// The locked part of `recordEvaluation`: index, feature and debug events; the context then
    /// joins the filter.
    @inline(never)
    private func recordEvents(_ record: EvaluationRecord) {
        let hash = record.context.fullyQualifiedKeyHash
        self.record { processor, now in
            let full = processor.recordEvaluationEvents(record, now: now)
            if processor.takeContextKeysForgotten() { contexts.clear() }
            contexts.insert(hash)
            return full
        }
    }

    /// What is pending now, as one payload: the queued events and the summary, the counters'
    /// counts included; nil when there is nothing.
    func takePayload() -> (body: [UInt8], count: Int)? {
        let now = Self.nowMillis
        let counted = countedFlags().compactMap { entry in entry.drain().map { (entry.compiled, $0) } }
        let started = windowStart.exchange(0, ordering: .relaxed)
        return processor.withLock { processor in
            for (flag, drained) in counted { processor.addCounts(drained, of: flag, windowStart: started == 0 ? now : started, now: now) }
            processor.resetContextKeysIfDue(now: now)
            if processor.takeContextKeysForgotten() { contexts.clear() }
            return processor.takePayload()
        }
    }

    /// Sends what is pending now.
    func flush() async {
        guard isEnabled, let payload = takePayload() else { return }
        switch await sender.send(payload.body) {
        case .delivered:
            delivered.add(1, ordering: .relaxed)
        case .dropped:
            dropped.add(1, ordering: .relaxed)
            logger.warning("\(payload.count) analytics events were dropped after a retry")
        case .disabled:
            enabled.store(false, ordering: .relaxed)
        }
    }

    /// Flushes every `flushInterval` and whenever woken, until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.flushInterval) } catch { return }
                    await self.flush()
                }
            }
            group.addTask {
                for await _ in self.wakeups { await self.flush() }
            }
            await group.waitForAll()
        }
    }

    /// Ends the wake-up sequence (the run loop then ends when cancelled).
    func finish() { wake.finish() }
}
