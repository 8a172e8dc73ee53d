/// An immutable, compiled snapshot of one environment's flags and segments: what evaluation reads.
///
/// Tombstones (`deleted: true`) are left out, so deleted items behave as not found. Updating
/// returns a new snapshot that shares every unchanged compiled item with the old one.
public struct EvaluationData: Sendable {
    public private(set) var flags: [String: CompiledFlag]
    public private(set) var segments: [String: CompiledSegment]

    /// An empty snapshot.
    public init() {
        flags = [:]
        segments = [:]
    }

    /// Compiles every live flag and segment of `payload`.
    public init(_ payload: PollingPayload) {
        flags = [:]
        segments = [:]
        flags.reserveCapacity(payload.flags.count)
        segments.reserveCapacity(payload.segments.count)
        for (key, flag) in payload.flags where !flag.deleted { flags[key] = CompiledFlag(flag) }
        for (key, segment) in payload.segments where !segment.deleted { segments[key] = CompiledSegment(segment) }
    }

    /// The live flag with `key`, if any.
    @inlinable public func flag(_ key: String) -> CompiledFlag? { flags[key] }

    /// A snapshot with `flag` added or replaced (or removed, if it is a tombstone).
    public func updating(_ flag: CompiledFlag) -> EvaluationData {
        var copy = self
        copy.flags[flag.key] = flag.flag.deleted ? nil : flag
        return copy
    }

    /// A snapshot with `segment` added or replaced (or removed, if it is a tombstone).
    public func updating(_ segment: CompiledSegment) -> EvaluationData {
        var copy = self
        copy.segments[segment.key] = segment.segment.deleted ? nil : segment
        return copy
    }

    /// A snapshot without the flag `key`.
    public func removingFlag(_ key: String) -> EvaluationData {
        var copy = self
        copy.flags[key] = nil
        return copy
    }

    /// A snapshot without the segment `key`.
    public func removingSegment(_ key: String) -> EvaluationData {
        var copy = self
        copy.segments[key] = nil
        return copy
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
        guard let flag = flags[flagKey] else { return .error(.flagNotFound) }
        return evaluate(flag, context: context)
    }

    /// Evaluates `flag` for `context`.
    public func evaluate(_ flag: CompiledFlag, context: EvaluationContext) -> EvaluationDetail {
        var observer = IgnoringObserver()
        return evaluate(flag, context: context, observer: &observer)
    }

    /// Evaluates `flag` for `context`, reporting prerequisite evaluations to `observer`.
    public func evaluate<Observer: EvaluationObserver>(
        _ flag: CompiledFlag, context: EvaluationContext, observer: inout Observer
    ) -> EvaluationDetail {
        var scope = Evaluation(data: self, context: context)
        var detail: EvaluationDetail
        do {
            detail = try scope.evaluate(flag, prerequisiteChain: nil, observer: &observer)
        } catch {
            detail = .error(.malformedFlag)
        }
        if let status = scope.bigSegmentsStatus { detail.reason.bigSegmentsStatus = status }
        return detail
    }
}
