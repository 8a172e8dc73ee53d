/// A segment prepared for evaluation.
public final class CompiledSegment: Sendable {
    /// The segment as received.
    public let segment: Segment
    let included: StringKeySet
    let excluded: StringKeySet
    let includedContexts: [CompiledSegmentTarget]
    let excludedContexts: [CompiledSegmentTarget]
    let rules: [CompiledSegmentRule]
    /// `key.salt.`, the hash prefix of weighted rules.
    let bucketPrefix: [UInt8]

    /// Compiles `segment`.
    public init(_ segment: Segment) {
        self.segment = segment
        included = StringKeySet(segment.included)
        excluded = StringKeySet(segment.excluded)
        includedContexts = segment.includedContexts.map(CompiledSegmentTarget.init)
        excludedContexts = segment.excludedContexts.map(CompiledSegmentTarget.init)
        rules = segment.rules.map(CompiledSegmentRule.init)
        bucketPrefix = Array("\(segment.key).\(segment.salt).".utf8)
    }

    /// The segment key.
    @inlinable public var key: String { segment.key }
}

struct CompiledSegmentTarget: Sendable {
    let kind: String?
    let keys: StringKeySet

    init(_ target: SegmentTarget) {
        kind = target.contextKind
        keys = StringKeySet(target.values)
    }
}

struct CompiledSegmentRule: Sendable {
    let clauses: [CompiledClause]
    let weight: Int?
    let rolloutContextKind: String?
    /// The bucketing attribute; nil means the context key.
    let bucketBy: AttributeReference?

    init(_ rule: SegmentRule) {
        clauses = rule.clauses.map(CompiledClause.init)
        weight = rule.weight
        rolloutContextKind = rule.rolloutContextKind
        if let bucketBy = rule.bucketBy, !bucketBy.isEmpty {
            self.bucketBy = AttributeReference(bucketBy, ownerContextKind: rule.rolloutContextKind)
        } else {
            bucketBy = nil
        }
    }
}
