import Synchronization

/// A Bloom filter of contexts: `mayContain` is true for every inserted context, and for about 1 % of the others
/// while no more than `capacity` were inserted (10 bits and 7 probes per context). A false positive costs finalization
/// one history probe, never a wrong answer.
struct ContextFilter: Sendable {
    private var words: [UInt64]
    private let mask: UInt64
    /// Contexts inserted (with repeats): past ``capacity`` the false-positive rate grows.
    private(set) var count = 0
    let capacity: Int

    static let probes = 7

    /// Room for `capacity` contexts at about 1 % false positives; at least 2^24 bits (2 MiB, 1.6 million contexts) unless
    /// told otherwise, so that a young installation does not rebuild it as it grows.
    init(capacity: Int, minimumBits: Int = 1 << 24) {
        let bits = Self.powerOfTwo(atLeast: max(minimumBits, 64, capacity * 10))
        words = [UInt64](repeating: 0, count: bits / 64)
        mask = UInt64(bits - 1)
        self.capacity = bits / 10
    }

    /// The hash a context is filed under (random per process, like `Hasher`: the filter never leaves the process).
    static func hash(environmentID: String, kind: String, key: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(environmentID)
        hasher.combine(kind)
        hasher.combine(key)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    static func hash(_ context: EnvironmentContext) -> UInt64 {
        hash(environmentID: context.environmentID, kind: context.context.kind, key: context.context.key)
    }

    mutating func insert(_ hash: UInt64) {
        count += 1
        let mask = self.mask
        words.withUnsafeMutableBufferPointer { words in
            Self.forEachBit(of: hash, mask: mask) { bit in words[Int(bit >> 6)] |= 1 << (bit & 63) }
        }
    }

    func mayContain(_ hash: UInt64) -> Bool {
        var all = true
        words.withUnsafeBufferPointer { words in
            Self.forEachBit(of: hash, mask: mask) { bit in all = all && words[Int(bit >> 6)] & (1 << (bit & 63)) != 0 }
        }
        return all
    }

    /// The filter's bit positions for `hash`: double hashing (Kirsch–Mitzenmacher) with an odd step, so the probes are
    /// distinct bits of the power-of-two table.
    @inline(__always) private static func forEachBit(of hash: UInt64, mask: UInt64, _ body: (UInt64) -> Void) {
        var position = hash
        let step = mix(hash) | 1
        for _ in 0..<probes {
            body(position & mask)
            position &+= step
        }
    }

    /// SplitMix64's finalizer: a second hash from the first.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func powerOfTwo(atLeast value: Int) -> Int {
        var result = 1
        while result < value { result <<= 1 }
        return result
    }
}

/// Which contexts may have final rows, so that finalization probes the final rows of those contexts only: in a
/// processor catching up on a backlog nearly every context it correlates is new, and each probe costs an index lookup
/// per table (a quarter of finalization's statement time, measured in docs/performance.md).
///
/// The filter must stay a superset of the contexts with final rows, or a context's history would be recomputed without
/// its final rows. It is tied to `analytics.final_rows_generation`, a counter that a trigger raises with every
/// statement inserting or updating final rows, whoever runs it (another processor, an older version during an
/// upgrade, an operator's repair). The filter is used only when it was last brought up to date at the generation a
/// round reads under the correlation lock; any change it did not see makes it unusable until it is rebuilt from the
/// tables, and rounds meanwhile probe every context, as they did before it existed. Deleting final rows (pruning,
/// rewinds) keeps it a superset. A round locks the counter's row when it reads it, so another writer's statement
/// cannot commit inside the round's span of generations; it is seen as a gap at the next round.
///
/// Transitions: this processor's own rounds and pruning report the generation before and after them, with the contexts
/// they gave final rows; a rebuild reads every context with final rows and the generation in one snapshot, and then
/// applies the own transitions recorded while it ran, as long as they continue its generation.
final class FinalizedContexts: Sendable {
    private struct State {
        var filter: ContextFilter?
        /// The generation `filter` is complete for.
        var generation: Int64 = -1
        var building = false
        var lastBuildStart: ContinuousClock.Instant?
        /// Own transitions committed while a build runs.
        var log: [Transition] = []
        /// The generation after this processor's last change, and when a change of someone else's was last noticed
        /// (a generation other than that one at the start of an own change).
        var lastOwnGeneration: Int64?
        var lastForeignChange: ContinuousClock.Instant?

        mutating func notice(_ generation: Int64, now: ContinuousClock.Instant) {
            if let lastOwnGeneration, lastOwnGeneration != generation { lastForeignChange = now }
            lastOwnGeneration = generation
        }
    }

    struct Transition: Sendable {
        let from: Int64
        let to: Int64
        let contexts: [UInt64]
    }

    private let state = Mutex(State())
    /// A filter made unusable by someone else's change is rebuilt once this long has passed since the last build and
    /// since the last such change: several processors correlating in turn would otherwise rebuild it all the time, for
    /// nothing (their rounds can never use it).
    let rebuildInterval: Duration

    init(rebuildInterval: Duration = .seconds(300)) {
        self.rebuildInterval = rebuildInterval
    }

    /// For each of `contexts` (hashed), whether it may have final rows, when the filter is complete for `generation`
    /// (read under the correlation lock); nil means probe every context. A filter complete for another generation missed
    /// a change and is dropped. (Answered under the lock rather than by handing out the filter, whose words a later
    /// insert would then have to copy.)
    func mayHaveFinalRows(_ contexts: [UInt64], at generation: Int64, now: ContinuousClock.Instant = .now) -> [Bool]? {
        state.withLock { state in
            state.notice(generation, now: now)
            guard let filter = state.filter else { return nil }
            guard state.generation == generation else {
                state.filter = nil
                return nil
            }
            return contexts.map { filter.mayContain($0) }
        }
    }

    /// Records a committed change of this processor that moved the generation from `from` to `to`, giving final rows to
    /// the contexts hashed in `contexts` (a superset is fine). Another change in between makes the filter unusable.
    func committed(_ transition: Transition, now: ContinuousClock.Instant = .now) {
        guard transition.from != transition.to else { return }
        state.withLock { state in
            state.notice(transition.from, now: now)
            state.lastOwnGeneration = transition.to
            if state.building { state.log.append(transition) }
            guard state.filter != nil, state.generation == transition.from else {
                state.filter = nil
                return
            }
            for hash in transition.contexts { state.filter!.insert(hash) }
            state.generation = transition.to
        }
    }

    /// Whether a build should start now, and if so marks it started: when there is no usable filter, and the last build
    /// (if any) and the last change of someone else's noticed are `rebuildInterval` old; or when the filter holds more
    /// contexts than it was sized for.
    func claimBuild(now: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard !state.building else { return false }
            let due: Bool
            if let filter = state.filter {
                due = filter.count > filter.capacity
            } else {
                due = [state.lastBuildStart, state.lastForeignChange].allSatisfy { $0.map { now - $0 >= rebuildInterval } ?? true }
            }
            guard due else { return false }
            state.building = true
            state.lastBuildStart = now
            state.log = []
            return true
        }
    }

    /// Installs a filter built from the tables as of `generation`, brought forward by the own transitions recorded
    /// meanwhile; `nil` (the build failed) only ends the build.
    func finishBuild(_ built: (filter: ContextFilter, generation: Int64)?) {
        state.withLock { state in
            defer {
                state.building = false
                state.log = []
            }
            guard var (filter, generation) = built else { return }
            for transition in state.log.sorted(by: { $0.from < $1.from }) where transition.from == generation {
                for hash in transition.contexts { filter.insert(hash) }
                generation = transition.to
            }
            state.filter = filter
            state.generation = generation
        }
    }
}
