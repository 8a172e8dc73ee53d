import ModelsCore

/// Everything an evaluation tells the event processor.
struct EvaluationRecord {
    var flagKey: String
    var flag: CompiledFlag?
    var context: EvaluationContext
    /// The result returned to the application (the default applied).
    var detail: EvaluationDetail
    var defaultValue: JSONValue
    /// The application asked for the reason (`variationDetail`).
    var withReason: Bool
    /// For prerequisite evaluations: the flag that required this one.
    var prereqOf: String?
}

/// The analytics-event logic of a LaunchDarkly server SDK, without I/O: summary counters, full
/// feature events for tracked flags and experiments (and debug events), custom and identify
/// events, and index events deduplicated by a least-recently-used cache of context keys. The
/// client feeds it under a lock and periodically takes a payload to send.
struct EventProcessor {
    struct Settings {
        var capacity = 10_000
        var flushAt = 1_000
        var contextKeysCapacity = 1_000
        var contextKeysFlushIntervalMillis: Int64 = 300_000
        var formatter = EventContextFormatter()
    }

    private enum Output {
        case index(EvaluationContext, Int64)
        case feature(FeatureEvent)
        case custom(key: String, context: EvaluationContext, data: JSONValue?, metricValue: Double?, creationDate: Int64)
        case identify(EvaluationContext, Int64)
    }

    private struct FeatureEvent {
        var debug: Bool
        var creationDate: Int64
        var key: String
        var value: JSONValue
        var defaultValue: JSONValue
        var version: Int?
        var variation: Int?
        var reason: EvaluationReason?
        var prereqOf: String?
        var context: EvaluationContext
    }

    fileprivate struct CounterKey: Hashable {
        var variation: Int?
        var version: Int?
    }

    fileprivate struct FlagSummary {
        var key: String
        /// Keeps the compiled flag (whose identity keys the summary) alive; nil for unknown flags.
        var flag: CompiledFlag?
        var defaultValue: JSONValue
        /// Few kinds per flag: an array compares faster than a set hashes.
        var contextKinds: [String] = []
        var counters: [CounterKey: (value: JSONValue, count: Int)] = [:]
        var order: [CounterKey] = []

        mutating func record(key: CounterKey, value: JSONValue, context: EvaluationContext) {
            for single in context.individualContexts { note(kind: single.kind) }
            add(key: key, value: value, count: 1)
        }

        mutating func note(kind: String) {
            if !contextKinds.contains(kind) { contextKinds.append(kind) }
        }

        mutating func add(key: CounterKey, value: JSONValue, count: Int) {
            let before = counters.count
            counters[key, default: (value, 0)].count += count
            if counters.count != before { order.append(key) }
        }
    }

    let settings: Settings
    private var queue: [Output] = []
    /// Per compiled flag (an integer hash instead of hashing the flag key on every evaluation),
    /// merged by key when written; unknown flags by key.
    private var summary: [ObjectIdentifier: FlagSummary] = [:]
    private var unknownSummary: [String: FlagSummary] = [:]
    private var summaryStart: Int64?
    private var summaryEnd: Int64 = 0
    private var contextKeys: LRUKeys
    private var contextKeysResetAt: Int64?
    /// Events dropped because the queue was full.
    private(set) var droppedEvents = 0
    /// Index events not sent because the context was seen recently.
    private(set) var deduplicatedContexts = 0
    /// Times the context-key cache was reset, and the forgetting last reported (see
    /// `takeContextKeysForgotten`).
    private var contextKeyResets = 0
    private var reportedForgetting = 0

    init(settings: Settings) {
        self.settings = settings
        contextKeys = LRUKeys(capacity: settings.contextKeysCapacity)
    }

    /// Events waiting to be sent (the summary not counted).
    var queuedEvents: Int { queue.count }
    /// True when nothing at all is pending.
    var isEmpty: Bool { queue.isEmpty && summary.isEmpty && unknownSummary.isEmpty }

    /// Records an evaluation; true when the queue reached `flushAt`.
    @discardableResult
    mutating func recordEvaluation(_ record: EvaluationRecord, now: Int64) -> Bool {
        if let flag = record.flag {
            if !flag.flag.excludeFromSummaries { summarize(record, flag: flag, now: now) }
        } else {
            summarize(record, flag: nil, now: now)
        }
        return recordEvaluationEvents(record, now: now)
    }

    /// Records an evaluation counted elsewhere (a flag's ``SummaryCounters``): its index event and
    /// its feature or debug events. True when the queue reached `flushAt`.
    @discardableResult
    mutating func recordEvaluationEvents(_ record: EvaluationRecord, now: Int64) -> Bool {
        noticeContext(record.context, now: now)
        guard let flag = record.flag else { return queue.count >= settings.flushAt }
        // Full events are the exception: decide before building one.
        let isExperiment = flag.isExperiment(record.detail.reason)
        let tracked = flag.flag.trackEvents || isExperiment
        let debugging = flag.flag.debugEventsUntilDate.map { Int64($0) > now } ?? false
        guard tracked || debugging, Self.sampled(flag.flag.samplingRatio) else { return queue.count >= settings.flushAt }
        var event = FeatureEvent(
            debug: false, creationDate: now, key: record.flagKey, value: record.detail.value,
            defaultValue: record.defaultValue, version: flag.flag.version, variation: record.detail.variationIndex,
            reason: record.withReason || isExperiment ? record.detail.reason : nil, prereqOf: record.prereqOf,
            context: record.context)
        if tracked { enqueue(.feature(event)) }
        if debugging {
            event.debug = true
            enqueue(.feature(event))
        }
        return queue.count >= settings.flushAt
    }

    /// Adds what a flag's ``SummaryCounters`` counted (from `windowStart`, Unix milliseconds, to
    /// `now`) to the summary.
    mutating func addCounts(_ drained: SummaryCounters.Drained, of flag: CompiledFlag, windowStart: Int64, now: Int64) {
        let variations = flag.flag.variations
        let identity = ObjectIdentifier(flag)
        var entry = summary[identity] ?? FlagSummary(key: flag.key, flag: flag, defaultValue: drained.defaultValue)
        for kind in drained.contextKinds { entry.note(kind: kind) }
        for (variation, count) in drained.counts {
            let value = variation.map { variations[$0] } ?? drained.defaultValue
            entry.add(key: CounterKey(variation: variation, version: flag.flag.version), value: value, count: count)
        }
        summary[identity] = entry
        summaryStart = min(summaryStart ?? windowStart, windowStart)
        summaryEnd = max(summaryEnd, now)
    }

    /// True once after the context-key cache forgot keys (evicted one, or was reset), so that a
    /// cache in front of it (``ContextFilter``) forgets them too.
    mutating func takeContextKeysForgotten() -> Bool {
        let forgetting = contextKeys.evictions + contextKeyResets
        defer { reportedForgetting = forgetting }
        return forgetting != reportedForgetting
    }

    /// Records `track`; true when the queue reached `flushAt`.
    @discardableResult
    mutating func recordCustom(key: String, context: EvaluationContext, data: JSONValue?, metricValue: Double?, now: Int64) -> Bool {
        noticeContext(context, now: now)
        enqueue(.custom(key: key, context: context, data: data, metricValue: metricValue, creationDate: now))
        return queue.count >= settings.flushAt
    }

    /// Records `identify`: no index event, but the context counts as seen.
    @discardableResult
    mutating func recordIdentify(_ context: EvaluationContext, now: Int64) -> Bool {
        resetContextKeysIfDue(now: now)
        _ = contextKeys.insert(context.fullyQualifiedKey)
        enqueue(.identify(context, now))
        return queue.count >= settings.flushAt
    }

    /// The pending events as a JSON array (the summary last), or nil when there are none; the
    /// processor starts a new window.
    mutating func takePayload() -> (body: [UInt8], count: Int)? {
        guard !isEmpty else { return nil }
        var w = JSONWriter(capacity: 1024)
        w.beginArray()
        for output in queue { write(output, to: &w) }
        var count = queue.count
        if !summary.isEmpty || !unknownSummary.isEmpty {
            writeSummary(to: &w)
            count += 1
        }
        w.endArray()
        queue.removeAll(keepingCapacity: true)
        summary.removeAll(keepingCapacity: true)
        unknownSummary.removeAll(keepingCapacity: true)
        summaryStart = nil
        return (w.bytes, count)
    }

    // MARK: - Internals

    private static func sampled(_ ratio: Int?) -> Bool {
        guard let ratio else { return true }
        if ratio <= 0 { return false }
        return ratio == 1 || Int.random(in: 0..<ratio) == 0
    }

    private mutating func enqueue(_ output: Output) {
        guard queue.count < settings.capacity else {
            droppedEvents += 1
            return
        }
        queue.append(output)
    }

    /// Forgets every context key once per `contextKeysFlushIntervalMillis` (index events are then
    /// sent again); also called at each flush, since contexts in a ``ContextFilter`` never reach
    /// `noticeContext`.
    mutating func resetContextKeysIfDue(now: Int64) {
        if let resetAt = contextKeysResetAt, now < resetAt { return }
        if contextKeysResetAt != nil {
            contextKeys.removeAll()
            contextKeyResets += 1
        }
        contextKeysResetAt = now + settings.contextKeysFlushIntervalMillis
    }

    private mutating func noticeContext(_ context: EvaluationContext, now: Int64) {
        resetContextKeysIfDue(now: now)
        if contextKeys.insert(context.fullyQualifiedKey) {
            enqueue(.index(context, now))
        } else {
            deduplicatedContexts += 1
        }
    }

    private mutating func summarize(_ record: EvaluationRecord, flag: CompiledFlag?, now: Int64) {
        if summaryStart == nil { summaryStart = now }
        summaryEnd = max(summaryEnd, now)
        guard let flag else {
            let key = CounterKey(variation: nil, version: nil)
                unknownSummary[record.flagKey, default: FlagSummary(key: record.flagKey, flag: nil, defaultValue: record.defaultValue)]
                .record(key: key, value: record.detail.value, context: record.context)
            return
        }
        let identity = ObjectIdentifier(flag)
        let key = CounterKey(variation: record.detail.variationIndex, version: flag.flag.version)
        summary[identity, default: FlagSummary(key: record.flagKey, flag: flag, defaultValue: record.defaultValue)]
            .record(key: key, value: record.detail.value, context: record.context)
    }

    private func write(_ output: Output, to w: inout JSONWriter) {
        let formatter = settings.formatter
        w.beginObject()
        switch output {
        case .index(let context, let date):
            w.key("kind"); w.writeString("index")
            w.key("creationDate"); w.writeInt(Int(date))
            w.key("context"); formatter.write(context, redactAnonymous: false, to: &w)
        case .identify(let context, let date):
            w.key("kind"); w.writeString("identify")
            w.key("creationDate"); w.writeInt(Int(date))
            w.key("context"); formatter.write(context, redactAnonymous: false, to: &w)
        case .custom(let key, let context, let data, let metricValue, let date):
            w.key("kind"); w.writeString("custom")
            w.key("creationDate"); w.writeInt(Int(date))
            w.key("key"); w.writeString(key)
            w.key("context"); formatter.write(context, redactAnonymous: true, to: &w)
            if let data { w.key("data"); w.writeValue(data) }
            if let metricValue { w.key("metricValue"); w.writeNumber(metricValue) }
        case .feature(let event):
            w.key("kind"); w.writeString(event.debug ? "debug" : "feature")
            w.key("creationDate"); w.writeInt(Int(event.creationDate))
            w.key("key"); w.writeString(event.key)
            w.key("value"); w.writeValue(event.value)
            w.key("default"); w.writeValue(event.defaultValue)
            if let version = event.version { w.key("version"); w.writeInt(version) }
            if let variation = event.variation { w.key("variation"); w.writeInt(variation) }
            if let reason = event.reason { w.key("reason"); reason.write(to: &w) }
            if let prereqOf = event.prereqOf { w.key("prereqOf"); w.writeString(prereqOf) }
            // Debug events carry the context unredacted for anonymity, as LaunchDarkly's do.
            w.key("context"); formatter.write(event.context, redactAnonymous: !event.debug, to: &w)
        }
        w.endObject()
    }

    private func writeSummary(to w: inout JSONWriter) {
        w.beginObject()
        w.key("kind"); w.writeString("summary")
        w.key("startDate"); w.writeInt(Int(summaryStart ?? summaryEnd))
        w.key("endDate"); w.writeInt(Int(summaryEnd))
        w.key("features"); w.beginObject()
        var byKey: [String: [FlagSummary]] = [:]
        for entry in summary.values { byKey[entry.key, default: []].append(entry) }
        for entry in unknownSummary.values { byKey[entry.key, default: []].append(entry) }
        for key in byKey.keys.sorted(by: utf8Less) {
            let entries = byKey[key]!
            w.key(key); w.beginObject()
            w.key("default"); w.writeValue(entries[0].defaultValue)
            w.key("contextKinds"); w.writeStrings(Set(entries.flatMap(\.contextKinds)).sorted(by: utf8Less))
            w.key("counters"); w.beginArray()
            for flag in entries {
                for counterKey in flag.order {
                    let counter = flag.counters[counterKey]!
                    w.beginObject()
                    w.key("value"); w.writeValue(counter.value)
                    w.key("count"); w.writeInt(counter.count)
                    if let version = counterKey.version {
                        if let variation = counterKey.variation { w.key("variation"); w.writeInt(variation) }
                        w.key("version"); w.writeInt(version)
                    } else {
                        w.key("unknown"); w.writeBool(true)
                    }
                    w.endObject()
                }
            }
            w.endArray()
            w.endObject()
        }
        w.endObject()
        w.endObject()
    }
}

/// A bounded set of keys that forgets the least recently used one when full.
struct LRUKeys {
    let capacity: Int
    private var lastUse: [String: Int] = [:]
    private var uses: [(key: String, tick: Int)] = []
    private var head = 0
    private var tick = 0
    /// Keys forgotten to keep within `capacity`.
    private(set) var evictions = 0

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    /// Marks `key` used; true when it was not in the set. A key in use is moved to the young end
    /// only once it is half the capacity old (an approximation of LRU that keeps the common case,
    /// a context seen again soon, to one dictionary lookup).
    mutating func insert(_ key: String) -> Bool {
        tick += 1
        if let last = lastUse[key], tick - last < max(1, capacity / 2) { return false }
        let wasPresent = lastUse.updateValue(tick, forKey: key) != nil
        uses.append((key, tick))
        while lastUse.count > capacity, head < uses.count {
            let oldest = uses[head]
            head += 1
            if lastUse[oldest.key] == oldest.tick {
                lastUse[oldest.key] = nil
                evictions += 1
            }
        }
        if head > 1024, head * 2 > uses.count {
            uses.removeFirst(head)
            head = 0
        }
        if uses.count - head > capacity * 4 { compact() }
        return !wasPresent
    }

    mutating func removeAll() {
        lastUse.removeAll()
        uses.removeAll()
        head = 0
    }

    var count: Int { lastUse.count }

    private mutating func compact() {
        uses = uses[head...].filter { lastUse[$0.key] == $0.tick }
        head = 0
    }
}
