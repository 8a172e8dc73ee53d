import ModelsCore
import Synchronization

/// The summary-event counters of one compiled flag, counted without a lock.
///
/// An evaluation adds one to its variation's counter (a relaxed atomic add) and checks that its
/// context's set of kinds is already noted (an atomic load); the flusher takes the counts with
/// atomic exchanges. Only the first evaluation with a new set of kinds, and the first one that
/// brings a default value, take the small lock: analytics stay off the read path's lock-free
/// design.
///
/// Kinds are remembered for the life of the compiled flag (a new version gets new counters), so
/// a summary may name a kind evaluated in an earlier window of the same version: erring towards
/// too many kinds rather than leaving a counted window with none.
///
/// Not final: ``FlagEntry`` is one, so that an evaluation reaches the counters without loading
/// (and reference counting) another object.
class SummaryCounters: @unchecked Sendable {
    // @unchecked: `counts` and `kindSlots` point to atomics this object allocates, initializes and
    // frees; everything else is immutable, atomic, or behind `slow`'s lock.
    /// The flag's number of variations; `counts` has one more, for results without a variation.
    let variationCount: Int
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    /// `kindsHash | 1` of the sets of kinds seen (0: a free slot); more go to `Slow.overflow`.
    private let kindSlots: UnsafeMutablePointer<Atomic<UInt64>>
    private static let kindSlotCount = 4
    /// Something was counted since the last `drain`.
    private let touched = Atomic<Bool>(false)
    private let hasDefault = Atomic<Bool>(false)
    private let slow = Mutex(Slow())

    private struct Slow {
        /// The default value the application passed (the first one: it is a constant in practice).
        var defaultValue: JSONValue = .null
        /// The kind names of each set of kinds noted.
        var kindNames: [UInt64: [String]] = [:]
        /// Sets of kinds beyond the slots.
        var overflow: Set<UInt64> = []
    }

    /// What `drain` took: the counts by variation (nil: no variation, the default was served).
    struct Drained {
        var defaultValue: JSONValue
        var contextKinds: [String]
        var counts: [(variation: Int?, count: Int)]
    }

    init(variationCount: Int) {
        self.variationCount = max(variationCount, 0)
        counts = .allocate(capacity: self.variationCount + 1)
        for index in 0...self.variationCount { (counts + index).initialize(to: Atomic(0)) }
        kindSlots = .allocate(capacity: Self.kindSlotCount)
        for index in 0..<Self.kindSlotCount { (kindSlots + index).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: variationCount + 1)
        counts.deallocate()
        kindSlots.deinitialize(count: Self.kindSlotCount)
        kindSlots.deallocate()
    }

    /// Counts one evaluation that served `variation` (nil: none, the default) to `context`.
    @inline(__always)
    func record(variation: Int?, context: EvaluationContext, defaultValue: JSONValue) {
        if !touched.load(ordering: .relaxed) { touched.store(true, ordering: .relaxed) }
        var index = variationCount
        if let variation, variation >= 0, variation < variationCount { index = variation }
        counts[index].wrappingAdd(1, ordering: .relaxed)
        let kinds = context.kindsHash | 1
        if kindSlots[0].load(ordering: .relaxed) != kinds { noteKinds(kinds, context: context) }
        if !hasDefault.load(ordering: .relaxed) { noteDefault(defaultValue) }
    }

    /// Takes the counts since the last call (nil when there are none).
    func drain() -> Drained? {
        guard touched.exchange(false, ordering: .relaxed) else { return nil }
        var taken: [(variation: Int?, count: Int)] = []
        for index in 0...variationCount {
            let count = counts[index].exchange(0, ordering: .relaxed)
            if count > 0 { taken.append((index < variationCount ? index : nil, count)) }
        }
        guard !taken.isEmpty else { return nil }
        var kinds: [UInt64] = []
        for index in 0..<Self.kindSlotCount {
            let value = kindSlots[index].load(ordering: .relaxed)
            if value != 0 { kinds.append(value) }
        }
        return slow.withLock { slow in
            var names = Set<String>()
            for value in kinds + slow.overflow { names.formUnion(slow.kindNames[value] ?? []) }
            return Drained(defaultValue: slow.defaultValue, contextKinds: names.sorted(by: utf8Less), counts: taken)
        }
    }

    /// A set of kinds not in the first slot: found in another slot, else noted under the lock.
    @inline(never)
    private func noteKinds(_ kinds: UInt64, context: EvaluationContext) {
        for index in 1..<Self.kindSlotCount where kindSlots[index].load(ordering: .relaxed) == kinds { return }
        slow.withLock { slow in
            for index in 0..<Self.kindSlotCount {
                let held = kindSlots[index].load(ordering: .relaxed)
                if held == kinds { return }
                if held == 0 {
                    slow.kindNames[kinds] = context.individualContexts.map(\.kind)
                    kindSlots[index].store(kinds, ordering: .relaxed)
                    return
                }
            }
            if slow.overflow.insert(kinds).inserted { slow.kindNames[kinds] = context.individualContexts.map(\.kind) }
        }
    }

    @inline(never)
    private func noteDefault(_ value: JSONValue) {
        slow.withLock { slow in
            guard !hasDefault.load(ordering: .relaxed) else { return }
            slow.defaultValue = value
            hasDefault.store(true, ordering: .relaxed)
        }
    }
}

/// A lock-free cache in front of the event processor's context-key cache: the hashes of contexts
/// whose index event was already decided, so that an evaluation for a context seen recently skips
/// the lock. Direct-mapped; a slot holds the hash mixed with the current generation, so `clear`
/// is one atomic add. It only ever holds contexts the processor's cache holds: the pipeline clears
/// it whenever that cache forgets a key.
final class ContextFilter: @unchecked Sendable {
    // @unchecked: `slots` points to atomics this object allocates, initializes and frees.
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    private let mask: Int
    private let generation = Atomic<UInt64>(1)

    /// A filter of `capacity` slots (rounded up to a power of two).
    init(capacity: Int = 4096) {
        var size = 1
        while size < capacity { size <<= 1 }
        mask = size - 1
        slots = .allocate(capacity: size)
        for index in 0..<size { (slots + index).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: mask + 1)
        slots.deallocate()
    }

    /// True when a context whose ``EvaluationContext/fullyQualifiedKeyHash`` is `hash` was inserted
    /// since the last `clear` (and not pushed out by another with the same slot).
    @inline(__always)
    func contains(_ hash: UInt64) -> Bool {
        let (index, tag) = locate(hash)
        return slots[index].load(ordering: .relaxed) == tag
    }

    func insert(_ hash: UInt64) {
        let (index, tag) = locate(hash)
        slots[index].store(tag, ordering: .relaxed)
    }

    /// Forgets every context.
    func clear() { generation.wrappingAdd(1, ordering: .relaxed) }

    /// The slot of `hash` (its low bits: the hash is well mixed) and the value that marks it there
    /// in this generation.
    @inline(__always)
    private func locate(_ hash: UInt64) -> (index: Int, tag: UInt64) {
        let tag = (hash ^ (generation.load(ordering: .relaxed) &* 0x9e37_79b9_7f4a_7c15)) | 1
        return (Int(truncatingIfNeeded: hash) & mask, tag)
    }
}
