/// An immutable, compiled snapshot of one environment's flags and segments: what evaluation reads.
///
/// Tombstones (`deleted: true`) are left out, so deleted items behave as not found. Updating
/// returns a new snapshot that shares every unchanged compiled item with the old one.
public struct EvaluationData: Sendable {
    /// Everything in one immutable object, so that evaluation carries a single reference.
    final class Storage: Sendable {
        let flags: [String: CompiledFlag]
        let segments: [String: CompiledSegment]
        /// The same, for lookups by precomputed key hash during evaluation.
        let flagTable: HashedTable<CompiledFlag>
        let segmentTable: HashedTable<CompiledSegment>
        /// `segmentTable.values` unretained (the table keeps them alive): evaluation reads segments
        /// without reference counting.
        let unmanagedSegments: [Unmanaged<CompiledSegment>]

        init(flags: [String: CompiledFlag], segments: [String: CompiledSegment]) {
            self.flags = flags
            self.segments = segments
            flagTable = HashedTable(flags)
            segmentTable = HashedTable(segments)
            unmanagedSegments = segmentTable.values.map { Unmanaged.passUnretained($0) }
        }
    }

    let storage: Storage

    /// The live flags by key.
    public var flags: [String: CompiledFlag] { storage.flags }
    /// The live segments by key.
    public var segments: [String: CompiledSegment] { storage.segments }

    /// An empty snapshot.
    public init() {
        storage = Storage(flags: [:], segments: [:])
    }

    /// Compiles every live flag and segment of `payload`.
    public init(_ payload: PollingPayload) {
        var flags: [String: CompiledFlag] = [:]
        var segments: [String: CompiledSegment] = [:]
        flags.reserveCapacity(payload.flags.count)
        segments.reserveCapacity(payload.segments.count)
        for (key, flag) in payload.flags where !flag.deleted { flags[key] = CompiledFlag(flag) }
        for (key, segment) in payload.segments where !segment.deleted { segments[key] = CompiledSegment(segment) }
        storage = Storage(flags: flags, segments: segments)
    }

    private init(flags: [String: CompiledFlag], segments: [String: CompiledSegment]) {
        storage = Storage(flags: flags, segments: segments)
    }

    /// The live flag with `key`, if any.
    public func flag(_ key: String) -> CompiledFlag? { storage.flags[key] }

    /// A snapshot with `flag` added or replaced (or removed, if it is a tombstone).
    public func updating(_ flag: CompiledFlag) -> EvaluationData {
        var flags = storage.flags
        flags[flag.key] = flag.flag.deleted ? nil : flag
        return EvaluationData(flags: flags, segments: storage.segments)
    }

    /// A snapshot with `segment` added or replaced (or removed, if it is a tombstone).
    public func updating(_ segment: CompiledSegment) -> EvaluationData {
        var segments = storage.segments
        segments[segment.key] = segment.segment.deleted ? nil : segment
        return EvaluationData(flags: storage.flags, segments: segments)
    }

    /// A snapshot without the flag `key`.
    public func removingFlag(_ key: String) -> EvaluationData {
        var flags = storage.flags
        flags[key] = nil
        return EvaluationData(flags: flags, segments: storage.segments)
    }

    /// A snapshot without the segment `key`.
    public func removingSegment(_ key: String) -> EvaluationData {
        var segments = storage.segments
        segments[key] = nil
        return EvaluationData(flags: storage.flags, segments: segments)
    }
}

/// Receives each prerequisite evaluation that an evaluation performs, for analytics events
/// (`prereqOf`) and the client-side `prerequisites` list.
public protocol EvaluationObserver {
    /// `prerequisite` was evaluated with `detail` as a prerequisite of `dependent`.
    mutating func prerequisiteEvaluated(_ prerequisite: CompiledFlag, detail: EvaluationDetail, dependent: CompiledFlag)
}

/// An observer that ignores everything; the compiler removes it entirely.
public struct IgnoringObserver: EvaluationObserver {
    public init() {}
    @inlinable public mutating func prerequisiteEvaluated(_: CompiledFlag, detail _: EvaluationDetail, dependent _: CompiledFlag) {}
}

extension EvaluationData {
    /// Evaluates the flag `flagKey` for `context`; `FLAG_NOT_FOUND` if there is no such live flag.
    public func evaluate(flagKey: String, context: EvaluationContext) -> EvaluationDetail {
        guard let flag = storage.flags[flagKey] else { return .error(.flagNotFound) }
        return evaluate(flag, context: context)
    }

    /// Evaluates `flag` for `context`.
    public func evaluate(_ flag: CompiledFlag, context: EvaluationContext) -> EvaluationDetail {
        var observer = IgnoringObserver()
        return evaluateInPlace(flag, context: context, observer: &observer)
    }

    /// Evaluates `flag` for `context`, reporting prerequisite evaluations to `observer`.
    public func evaluate<Observer: EvaluationObserver>(
        _ flag: CompiledFlag, context: EvaluationContext, observer: inout Observer
    ) -> EvaluationDetail {
        evaluateInPlace(flag, context: context, observer: &observer)
    }

    /// The body of both `evaluate`s, inlined into each: calling one from the other returned the detail into a
    /// temporary and copied it out with wide loads over the callee's narrow stores, which stalled on store-to-load
    /// forwarding (most of the wrapper's time, and an eighth of a fixed-fallthrough evaluation through the SDK).
    @inline(__always)
    private func evaluateInPlace<Observer: EvaluationObserver>(
        _ flag: CompiledFlag, context: EvaluationContext, observer: inout Observer
    ) -> EvaluationDetail {
        // Fast paths for the most common flags (off, or on with nothing but a fixed fallthrough),
        // which need no evaluation state at all.
        guard flag.on else { return Evaluation.offValue(flag, reason: .off) }
        if flag.isFixedFallthrough, case .variation(let index) = flag.fallthrough {
            return Evaluation.variation(flag, index, reason: .fallthrough())
        }
        let evaluation = Evaluation(data: self, context: context)
        var state = EvaluationState()
        do {
            var detail = try evaluation.evaluate(flag, prerequisiteChain: nil, state: &state, observer: &observer)
            if let status = state.bigSegmentsStatus { detail.reason.bigSegmentsStatus = status }
            return detail
        } catch {
            var detail = EvaluationDetail.error(.malformedFlag)
            if let status = state.bigSegmentsStatus { detail.reason.bigSegmentsStatus = status }
            return detail
        }
    }
}
