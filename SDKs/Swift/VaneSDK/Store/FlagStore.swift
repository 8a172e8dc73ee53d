import ModelsCore
import Synchronization

/// A live flag as the client holds it: compiled, with the summary counters of its evaluations.
final class FlagEntry: SummaryCounters, @unchecked Sendable {
    // @unchecked: SummaryCounters' reasons; the properties here are immutable.
    let compiled: CompiledFlag
    /// Evaluations are counted in the summary (`excludeFromSummaries` is false).
    let countsInSummary: Bool
    /// Every evaluation goes to the event processor: the flag is tracked, or has debug events
    /// (whose date the processor checks).
    let recordsEvents: Bool
    /// An evaluation may count as an experiment (a tracked rule or fallthrough, an experiment
    /// rollout): only then is its reason worth checking.
    let mayBeExperiment: Bool
    /// The flag has prerequisites, whose evaluations are recorded too (through an observer, which
    /// costs a generic call and a few retains: only when needed).
    let hasPrerequisites: Bool

    init(_ compiled: CompiledFlag) {
        self.compiled = compiled
        let flag = compiled.flag
        countsInSummary = !flag.excludeFromSummaries
        recordsEvents = flag.trackEvents || flag.debugEventsUntilDate != nil
        hasPrerequisites = !flag.prerequisites.isEmpty
        mayBeExperiment = flag.trackEventsFallthrough || flag.fallthrough?.rollout?.isExperiment == true
            || flag.rules.contains { $0.trackEvents || $0.variationOrRollout.rollout?.isExperiment == true }
        super.init(variationCount: flag.variations.count)
    }
}

/// One immutable state of the client's flag data: what every evaluation reads.
final class FlagSnapshot: Sendable {
    let data: EvaluationData
    /// Every flag of `data`, by key, with its counters (the same compiled objects).
    let entries: [String: FlagEntry]
    /// False until the first full data arrived (evaluations then answer `CLIENT_NOT_READY`).
    let initialized: Bool

    init(data: EvaluationData, entries: [String: FlagEntry], initialized: Bool) {
        self.data = data
        self.entries = entries
        self.initialized = initialized
    }
}

/// The client's flag and segment data: versioned updates from the data source (LaunchDarkly's
/// rules: a patch or delete applies only when its version is newer than the one held, tombstones
/// included), published as immutable snapshots, with the keys of the flags each change affects.
final class FlagStore: Sendable {
    private struct State {
        /// Every flag and segment received, tombstones included (they keep their version).
        var flags: [String: FeatureFlag] = [:]
        var segments: [String: Segment] = [:]
        var data = EvaluationData()
        var entries: [String: FlagEntry] = [:]
        var initialized = false
        /// Entries replaced or removed, with the drains they still wait for: an evaluation that
        /// loaded the previous snapshot may count on one just after it was replaced.
        var retired: [(entry: FlagEntry, drainsLeft: Int)] = []
    }

    /// Entries kept for draining at most (without events nothing drains them).
    private static let retiredLimit = 10_000

    let cell = SnapshotCell(FlagSnapshot(data: EvaluationData(), entries: [:], initialized: false))
    private let state = Mutex(State())
    /// Whether an event pipeline takes the counters' counts (else replaced entries are not kept).
    private let drainsCounters: Bool
    let changes = FlagChangeBroadcaster()
    private let initializedHandler = Mutex<(@Sendable () -> Void)?>(nil)

    /// A store; `drainsCounters` when an event pipeline will call ``entriesToDrain()``.
    init(drainsCounters: Bool = false) {
        self.drainsCounters = drainsCounters
    }

    /// `handler` runs after every full data set (the first one makes the client ready).
    func setInitializedHandler(_ handler: @escaping @Sendable () -> Void) {
        initializedHandler.withLock { $0 = handler }
    }

    /// Evaluations' view.
    @inline(__always) func withSnapshot<Result>(_ body: (FlagSnapshot) throws -> Result) rethrows -> Result {
        try cell.withCurrent(body)
    }

    var isInitialized: Bool { cell.withCurrent { $0.initialized } }

    /// A full data set (stream `put`, a poll, the data file).
    func replaceAll(_ payload: PollingPayload) {
        let changed: Set<String> = state.withLock { state in
            let oldFlags = state.flags
            let oldSegments = state.segments
            state.flags = payload.flags
            state.segments = payload.segments
            state.data = EvaluationData(payload)
            state.initialized = true
            publish(&state)
            let flagKeys = Set(oldFlags.keys).union(payload.flags.keys).filter {
                Self.liveVersion(oldFlags[$0]) != Self.liveVersion(payload.flags[$0])
            }
            let segmentKeys = Set(oldSegments.keys).union(payload.segments.keys).filter {
                Self.liveVersion(oldSegments[$0]) != Self.liveVersion(payload.segments[$0])
            }
            return Self.affectedFlags(flags: flagKeys, segments: segmentKeys, in: state.data)
        }
        // Changes first: a `flagChanges` sequence made after `start` returned must not see the
        // first data set's keys.
        changes.send(changed)
        initializedHandler.withLock { $0 }?()
    }

    /// A stream `patch` of a flag; ignored unless newer than what is held.
    func upsert(_ flag: FeatureFlag) {
        let changed: Set<String> = state.withLock { state in
            if let held = state.flags[flag.key], held.version >= flag.version { return [] }
            state.flags[flag.key] = flag
            state.data = state.data.updating(CompiledFlag(flag))
            publish(&state)
            return Self.affectedFlags(flags: [flag.key], segments: [], in: state.data)
        }
        changes.send(changed)
    }

    /// A stream `patch` of a segment; ignored unless newer than what is held.
    func upsert(_ segment: Segment) {
        let changed: Set<String> = state.withLock { state in
            if let held = state.segments[segment.key], held.version >= segment.version { return [] }
            state.segments[segment.key] = segment
            state.data = state.data.updating(CompiledSegment(segment))
            publish(&state)
            return Self.affectedFlags(flags: [], segments: [segment.key], in: state.data)
        }
        changes.send(changed)
    }

    /// A stream `delete`: a tombstone with `version`, unless what is held is as new.
    func delete(flag key: String, version: Int) {
        var tombstone = FeatureFlag(key: key, version: version)
        tombstone.deleted = true
        upsert(tombstone)
    }

    /// A stream `delete` of a segment.
    func delete(segment key: String, version: Int) {
        var tombstone = Segment(key: key, version: version)
        tombstone.deleted = true
        upsert(tombstone)
    }

    /// Publishes `state.data` with its entries: unchanged flags keep theirs (and their counts),
    /// new or changed ones get new entries, and replaced entries wait for their last drains.
    private func publish(_ state: inout State) {
        var entries: [String: FlagEntry] = [:]
        entries.reserveCapacity(state.data.flags.count)
        for (key, compiled) in state.data.flags {
            if let held = state.entries[key], held.compiled === compiled {
                entries[key] = held
            } else {
                entries[key] = FlagEntry(compiled)
            }
        }
        if drainsCounters {
            for (key, held) in state.entries where entries[key] !== held { state.retired.append((held, 2)) }
        }
        if state.retired.count > Self.retiredLimit { state.retired.removeFirst(state.retired.count - Self.retiredLimit) }
        state.entries = entries
        cell.publish(FlagSnapshot(data: state.data, entries: entries, initialized: state.initialized))
    }

    /// The entries whose counts the event pipeline takes at a flush: the current ones and the
    /// recently replaced ones (each of those twice, then forgotten).
    func entriesToDrain() -> [FlagEntry] {
        state.withLock { state in
            var result = Array(state.entries.values)
            for index in state.retired.indices {
                result.append(state.retired[index].entry)
                state.retired[index].drainsLeft -= 1
            }
            state.retired.removeAll { $0.drainsLeft <= 0 }
            return result
        }
    }

    private static func liveVersion(_ flag: FeatureFlag?) -> Int? {
        guard let flag, !flag.deleted else { return nil }
        return flag.version
    }

    private static func liveVersion(_ segment: Segment?) -> Int? {
        guard let segment, !segment.deleted else { return nil }
        return segment.version
    }

    /// The changed flags plus every flag whose result may depend on a changed flag or segment
    /// (through prerequisites and `segmentMatch` clauses, transitively), as LaunchDarkly's flag
    /// tracker reports them. Deleted flags are included.
    static func affectedFlags(
        flags changedFlags: Set<String>, segments changedSegments: Set<String>, in data: EvaluationData
    ) -> Set<String> {
        var flags = changedFlags
        var segments = changedSegments
        func referencedSegments(_ clauses: [Clause]) -> [String] {
            clauses.filter { $0.op == "segmentMatch" }.flatMap { $0.values.compactMap(\.stringValue) }
        }
        var grew = true
        while grew {
            grew = false
            for (key, compiled) in data.segments where !segments.contains(key) {
                if compiled.segment.rules.contains(where: { referencedSegments($0.clauses).contains(where: segments.contains) }) {
                    segments.insert(key)
                    grew = true
                }
            }
            for (key, compiled) in data.flags where !flags.contains(key) {
                let flag = compiled.flag
                if flag.prerequisites.contains(where: { flags.contains($0.key) })
                    || flag.rules.contains(where: { referencedSegments($0.clauses).contains(where: segments.contains) }) {
                    flags.insert(key)
                    grew = true
                }
            }
        }
        return flags
    }
}

/// Hands flag-change notifications to every ``VaneClient/flagChanges`` sequence.
final class FlagChangeBroadcaster: Sendable {
    private let listeners = Mutex<(next: Int, continuations: [Int: AsyncStream<String>.Continuation])>((0, [:]))

    /// A new sequence of changed flag keys; it ends when the client shuts down.
    func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = listeners.withLock { state in
            let id = state.next
            state.next += 1
            state.continuations[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.listeners.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    func send(_ keys: Set<String>) {
        guard !keys.isEmpty else { return }
        let continuations = listeners.withLock { Array($0.continuations.values) }
        for continuation in continuations {
            for key in keys.sorted() { continuation.yield(key) }
        }
    }

    func finish() {
        let continuations = listeners.withLock { state in
            defer { state.continuations = [:] }
            return Array(state.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }
}
