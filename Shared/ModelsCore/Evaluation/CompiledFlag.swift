/// A flag prepared for evaluation: attribute references, regular expressions, dates, semantic
/// versions and target key sets are parsed once here, so that evaluating parses nothing and, on the
/// common paths, allocates nothing.
public final class CompiledFlag: Sendable {
    /// The flag as received.
    public let flag: FeatureFlag
    let targets: [CompiledTarget]
    let rules: [CompiledRule]
    let `fallthrough`: CompiledVariationOrRollout
    /// `key.salt.`, the hash prefix of rollouts without a seed.
    let bucketPrefix: [UInt8]

    /// Compiles `flag`.
    public init(_ flag: FeatureFlag) {
        self.flag = flag
        bucketPrefix = Array("\(flag.key).\(flag.salt).".utf8)
        targets = CompiledTarget.resolve(targets: flag.targets, contextTargets: flag.contextTargets)
        rules = flag.rules.map(CompiledRule.init)
        self.fallthrough = CompiledVariationOrRollout(flag.fallthrough)
    }

    /// The flag key.
    @inlinable public var key: String { flag.key }

    /// True when the evaluation counts as an experiment for analytics (full feature events with
    /// reasons): the reason says `inExperiment`, or the matched rule or fallthrough is tracked.
    public func isExperiment(_ reason: EvaluationReason) -> Bool {
        if reason.inExperiment { return true }
        switch reason.kind {
        case .ruleMatch:
            guard let index = reason.ruleIndex, index >= 0, index < flag.rules.count else { return false }
            return flag.rules[index].trackEvents
        case .fallthrough:
            return flag.trackEventsFallthrough
        default:
            return false
        }
    }
}

/// One entry of the effective individual-targeting list.
struct CompiledTarget: Sendable {
    let kind: String
    let keys: StringKeySet
    let variation: Int


    /// The targeting list in evaluation order, as LaunchDarkly's Go evaluator walks it: `targets`
    /// alone when there are no `contextTargets`; otherwise `contextTargets`, where a user-kind entry
    /// without values stands for the first `targets` entry with the same variation. Every entry,
    /// `targets` included, applies to its own context kind (default `user`).
    static func resolve(targets: [Target], contextTargets: [Target]) -> [CompiledTarget] {
        if contextTargets.isEmpty { return targets.map(CompiledTarget.init) }
        var resolved: [CompiledTarget] = []
        for target in contextTargets {
            if kindOrUser(target.contextKind) == "user", target.values.isEmpty {
                if let legacy = targets.first(where: { $0.variation == target.variation }) {
                    resolved.append(CompiledTarget(legacy))
                }
            } else {
                resolved.append(CompiledTarget(target))
            }
        }
        return resolved
    }

    init(_ target: Target) {
        kind = kindOrUser(target.contextKind)
        keys = StringKeySet(target.values)
        variation = target.variation
    }
}

struct CompiledRule: Sendable {
    let id: String?
    let clauses: [CompiledClause]
    let result: CompiledVariationOrRollout

    init(_ rule: FlagRule) {
        id = rule.id
        clauses = rule.clauses.map(CompiledClause.init)
        result = CompiledVariationOrRollout(rule.variationOrRollout)
    }
}

/// What a rule or the fallthrough serves.
enum CompiledVariationOrRollout: Sendable {
    case variation(Int)
    case rollout(CompiledRollout)
    /// Neither a variation nor a non-empty rollout: MALFORMED_FLAG when reached.
    case malformed

    init(_ value: VariationOrRollout?) {
        if let variation = value?.variation {
            self = .variation(variation)
        } else if let rollout = value?.rollout, !rollout.variations.isEmpty {
            self = .rollout(CompiledRollout(rollout))
        } else {
            self = .malformed
        }
    }
}

struct CompiledRollout: Sendable {
    let isExperiment: Bool
    let contextKind: String?
    /// The bucketing attribute; nil means the context key (always the key for experiments).
    let bucketBy: AttributeReference?
    /// `seed.` when the rollout has a seed; otherwise the flag's `key.salt.` prefix is used.
    let seedPrefix: [UInt8]?
    let variations: [WeightedVariation]

    init(_ rollout: Rollout) {
        isExperiment = rollout.isExperiment
        contextKind = rollout.contextKind
        if isExperiment {
            bucketBy = nil
        } else if let bucketBy = rollout.bucketBy, !bucketBy.isEmpty {
            self.bucketBy = AttributeReference(bucketBy, ownerContextKind: rollout.contextKind)
        } else {
            bucketBy = nil
        }
        seedPrefix = rollout.seed.map { Array("\($0).".utf8) }
        variations = rollout.variations
    }
}

/// A clause with its values pre-parsed for its operator.
struct CompiledClause: Sendable {
    enum Target: Sendable {
        /// `segmentMatch`: the segment keys (non-string values dropped).
        case segments([String])
        /// The special `kind` attribute: matched against every individual context's kind.
        case kinds
        /// An ordinary attribute of the context of `contextKind`.
        case attribute(contextKind: String?, reference: AttributeReference)
        /// The attribute is empty or an invalid reference: MALFORMED_FLAG when evaluated.
        case invalidAttribute
    }

    let target: Target
    let matcher: ValueMatcher
    let negate: Bool

    init(_ clause: Clause) {
        negate = clause.negate
        let op = ClauseOperator(rawValue: clause.op)
        if op == .segmentMatch {
            target = .segments(clause.values.compactMap(\.stringValue))
            matcher = .never
            return
        }
        matcher = ValueMatcher(op: op, values: clause.values)
        if clause.attribute.isEmpty {
            target = .invalidAttribute
        } else if clause.attribute == "kind" {
            target = .kinds
        } else {
            let reference = AttributeReference(clause.attribute, ownerContextKind: clause.contextKind)
            target = reference.isValid ? .attribute(contextKind: clause.contextKind, reference: reference) : .invalidAttribute
        }
    }
}

/// The clause operators LaunchDarkly defines.
public enum ClauseOperator: String, Sendable, Hashable, CaseIterable {
    case `in`
    case startsWith
    case endsWith
    case contains
    case matches
    case lessThan
    case lessThanOrEqual
    case greaterThan
    case greaterThanOrEqual
    case before
    case after
    case semVerEqual
    case semVerLessThan
    case semVerGreaterThan
    case segmentMatch
}

/// A context kind as data states it, with absent or empty meaning `user`.
@inline(__always) func kindOrUser(_ kind: String?) -> String {
    guard let kind, !kind.isEmpty else { return "user" }
    return kind
}
