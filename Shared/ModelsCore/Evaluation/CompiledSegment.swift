/// A segment prepared for evaluation.
public final class CompiledSegment: Sendable {
    /// The segment as received.
    public let segment: Segment
    /// The segment key.
    public let key: String
    let included: StringKeySet
    let excluded: StringKeySet
    let includedContexts: [CompiledSegmentTarget]
    let excludedContexts: [CompiledSegmentTarget]
    /// Unretained (`ownedRules` keeps them alive), for evaluation without reference counting.
    let rules: [Unmanaged<CompiledSegmentRule>]
    private let ownedRules: [CompiledSegmentRule]
    let unbounded: Bool
    let hasGeneration: Bool
    let unboundedContextKind: String
    let unboundedContextKindPrefix: UTF8Prefix
    /// `key.salt.`, the hash prefix of weighted rules.
    let bucketPrefix: [UInt8]

    /// Compiles `segment`.
    public init(_ segment: Segment) {
        self.segment = segment
        key = segment.key
        included = StringKeySet(segment.included)
        excluded = StringKeySet(segment.excluded)
        includedContexts = segment.includedContexts.map(CompiledSegmentTarget.init)
        excludedContexts = segment.excludedContexts.map(CompiledSegmentTarget.init)
        ownedRules = segment.rules.map(CompiledSegmentRule.init)
        rules = ownedRules.map { Unmanaged.passUnretained($0) }
        unbounded = segment.unbounded
        hasGeneration = segment.generation != nil
        unboundedContextKind = kindOrUser(segment.unboundedContextKind)
        unboundedContextKindPrefix = UTF8Prefix(unboundedContextKind)
        bucketPrefix = Array("\(segment.key).\(segment.salt).".utf8)
    }
}

final class CompiledSegmentTarget: Sendable {
    let kind: String
    let kindPrefix: UTF8Prefix
    let keys: StringKeySet

    init(_ target: SegmentTarget) {
        kind = kindOrUser(target.contextKind)
        kindPrefix = UTF8Prefix(kind)
        keys = StringKeySet(target.values)
    }
}

final class CompiledSegmentRule: Sendable {
    /// Unretained (`ownedClauses` keeps them alive), for evaluation without reference counting.
    let clauses: [Unmanaged<CompiledClause>]
    private let ownedClauses: [CompiledClause]
    let weight: Int?
    let rolloutContextKind: String
    let rolloutContextKindPrefix: UTF8Prefix
    /// The bucketing attribute; nil means the context key.
    let bucketBy: CompiledAttribute?

    init(_ rule: SegmentRule) {
        ownedClauses = rule.clauses.map(CompiledClause.init)
        clauses = ownedClauses.map { Unmanaged.passUnretained($0) }
        weight = rule.weight
        rolloutContextKind = kindOrUser(rule.rolloutContextKind)
        rolloutContextKindPrefix = UTF8Prefix(rolloutContextKind)
        if let bucketBy = rule.bucketBy, !bucketBy.isEmpty {
            self.bucketBy = CompiledAttribute(AttributeReference(bucketBy, ownerContextKind: rule.rolloutContextKind))
        } else {
            bucketBy = nil
        }
    }
}
