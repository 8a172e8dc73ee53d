/// A flag prepared for evaluation: attribute references, regular expressions, dates, semantic
/// versions and target key sets are parsed once here, so that evaluating parses nothing and, on the
/// common paths, allocates nothing. The compiled parts are immutable classes so that evaluation
/// reads them in place rather than copying (and reference-counting) their fields.
public final class CompiledFlag: Sendable {
    /// The flag as received.
    public let flag: FeatureFlag
    /// The flag key.
    public let key: String
    let on: Bool
    let offVariation: Int?
    let variations: [JSONValue]
    let prerequisites: [Prerequisite]
    let prerequisiteHashes: [UInt64]
    let prerequisitePrefixes: [UTF8Prefix]
    let targets: [CompiledTarget]
    /// The rules, unretained (`ownedRules` keeps them alive), so that evaluation reads them without
    /// reference counting, which cost more than the rest of an evaluation.
    let rules: [Unmanaged<CompiledRule>]
    private let ownedRules: [CompiledRule]
    let `fallthrough`: CompiledResult
    /// `key.salt.`, the hash prefix of rollouts without a seed.
    let bucketPrefix: [UInt8]
    /// No prerequisites, targets or rules: an on flag serves its fallthrough.
    let isFixedFallthrough: Bool

    /// Compiles `flag`.
    public init(_ flag: FeatureFlag) {
        self.flag = flag
        key = flag.key
        on = flag.on
        offVariation = flag.offVariation
        variations = flag.variations
        prerequisites = flag.prerequisites
        prerequisiteHashes = flag.prerequisites.map { StringHash.fnv1a($0.key) }
        prerequisitePrefixes = flag.prerequisites.map { UTF8Prefix($0.key) }
        bucketPrefix = Array("\(flag.key).\(flag.salt).".utf8)
        targets = CompiledTarget.resolve(targets: flag.targets, contextTargets: flag.contextTargets)
        ownedRules = flag.rules.map(CompiledRule.init)
        rules = ownedRules.map { Unmanaged.passUnretained($0) }
        self.fallthrough = CompiledResult(flag.fallthrough)
        isFixedFallthrough = prerequisites.isEmpty && targets.isEmpty && rules.isEmpty
    }

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
final class CompiledTarget: Sendable {
    let kind: String
    let kindPrefix: UTF8Prefix
    let keys: StringKeySet
    let variation: Int

    init(_ target: Target) {
        kind = kindOrUser(target.contextKind)
        kindPrefix = UTF8Prefix(kind)
        keys = StringKeySet(target.values)
        variation = target.variation
    }

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
}

final class CompiledRule: Sendable {
    let id: String?
    /// Unretained, as ``CompiledFlag/rules``; `ownedClauses` keeps them alive.
    let clauses: [Unmanaged<CompiledClause>]
    private let ownedClauses: [CompiledClause]
    let result: CompiledResult

    init(_ rule: FlagRule) {
        id = rule.id
        ownedClauses = rule.clauses.map(CompiledClause.init)
        clauses = ownedClauses.map { Unmanaged.passUnretained($0) }
        result = CompiledResult(rule.variationOrRollout)
    }
}

/// What a rule or the fallthrough serves.
enum CompiledResult: Sendable {
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

final class CompiledRollout: Sendable {
    let isExperiment: Bool
    let contextKind: String
    let contextKindPrefix: UTF8Prefix
    /// The bucketing attribute; nil means the context key (always the key for experiments).
    let bucketBy: CompiledAttribute?
    /// `seed.` when the rollout has a seed; otherwise the flag's `key.salt.` prefix is used.
    let seedPrefix: [UInt8]?
    let variations: [WeightedVariation]

    init(_ rollout: Rollout) {
        isExperiment = rollout.isExperiment
        contextKind = kindOrUser(rollout.contextKind)
        contextKindPrefix = UTF8Prefix(contextKind)
        if !isExperiment, let bucketBy = rollout.bucketBy, !bucketBy.isEmpty {
            self.bucketBy = CompiledAttribute(AttributeReference(bucketBy, ownerContextKind: rollout.contextKind))
        } else {
            bucketBy = nil
        }
        seedPrefix = rollout.seed.map { Array("\($0).".utf8) }
        variations = rollout.variations
    }
}

/// A clause with its values pre-parsed for its operator.
final class CompiledClause: Sendable {
    enum Subject: Sendable {
        /// `segmentMatch`: membership in the segments `segmentKeys`.
        case segments
        /// The special `kind` attribute: matched against every individual context's kind.
        case kinds
        /// An ordinary attribute of the context of `contextKind`.
        case attribute
        /// The attribute is empty or an invalid reference: MALFORMED_FLAG when evaluated.
        case invalidAttribute
    }

    let subject: Subject
    let negate: Bool
    let contextKind: String
    let contextKindHash: UInt64
    let contextKindPrefix: UTF8Prefix
    let attribute: CompiledAttribute?
    /// Segment keys of a `segmentMatch` clause (non-string values dropped), and their hashes.
    let segmentKeys: [String]
    let segmentKeyHashes: [UInt64]
    let segmentKeyPrefixes: [UTF8Prefix]
    let matcher: ValueMatcher

    init(_ clause: Clause) {
        negate = clause.negate
        contextKind = kindOrUser(clause.contextKind)
        contextKindHash = StringHash.fnv1a(contextKind)
        contextKindPrefix = UTF8Prefix(contextKind)
        let op = ClauseOperator(rawValue: clause.op)
        matcher = ValueMatcher(op: op, values: clause.values)
        if op == .segmentMatch {
            subject = .segments
            segmentKeys = clause.values.compactMap(\.stringValue)
            segmentKeyHashes = segmentKeys.map(StringHash.fnv1a)
            segmentKeyPrefixes = segmentKeys.map(UTF8Prefix.init)
            attribute = nil
            return
        }
        segmentKeys = []
        segmentKeyHashes = []
        segmentKeyPrefixes = []
        if clause.attribute.isEmpty {
            subject = .invalidAttribute
            attribute = nil
        } else if clause.attribute == "kind" {
            subject = .kinds
            attribute = nil
        } else {
            let reference = AttributeReference(clause.attribute, ownerContextKind: clause.contextKind)
            subject = reference.isValid ? .attribute : .invalidAttribute
            attribute = reference.isValid ? CompiledAttribute(reference) : nil
        }
    }
}

/// An attribute reference resolved for fast lookup: built-ins are recognised once, here.
struct CompiledAttribute: Sendable {
    enum Root: Sendable {
        case key, kind, name, anonymous, custom
    }
    let reference: AttributeReference
    let root: Root
    /// The top-level attribute name.
    let first: String
    let firstHash: UInt64
    let firstPrefix: UTF8Prefix
    /// Property names to follow inside the top-level value.
    let path: ArraySlice<String>

    init(_ reference: AttributeReference) {
        self.reference = reference
        first = reference.components.first ?? ""
        firstHash = StringHash.fnv1a(first)
        firstPrefix = UTF8Prefix(first)
        path = reference.components.dropFirst()
        root = switch first {
        case "key": .key
        case "kind": .kind
        case "name": .name
        case "anonymous": .anonymous
        default: .custom
        }
    }

    var isValid: Bool { reference.isValid }

    /// Whether the attribute's value in `context` satisfies `matcher` (an array when any element
    /// does); nil when the attribute is absent. Top-level values are matched in place, uncopied.
    @inline(__always) func matches(_ matcher: ValueMatcher, in context: SingleKindContext) -> Bool? {
        guard path.isEmpty else {
            guard let value = value(in: context) else { return nil }
            return matcher.matchesValueOrElement(value)
        }
        switch root {
        case .key: return matcher.matchesString(context.key, hash: context.keyHash, prefix: context.keyPrefix)
        case .kind: return matcher.matchesString(context.kind, hash: context.kindHash, prefix: context.kindPrefix)
        case .name:
            guard let name = context.name else { return nil }
            return matcher.matchesAny(.string(name))
        case .anonymous: return matcher.matchesAny(.bool(context.anonymous))
        case .custom: return context.attribute(first, hash: firstHash, prefix: firstPrefix, matches: matcher)
        }
    }

    /// The attribute's value in `context`, or nil when absent (a nested `null` counts as absent).
    @inline(__always) func value(in context: SingleKindContext) -> JSONValue? {
        var value: JSONValue
        switch root {
        case .key: value = .string(context.key)
        case .kind: value = .string(context.kind)
        case .name:
            guard let name = context.name else { return nil }
            value = .string(name)
        case .anonymous: value = .bool(context.anonymous)
        case .custom:
            guard let attribute = context.attribute(first, hash: firstHash) else { return nil }
            value = attribute
        }
        for component in path {
            guard case .object(let properties) = value, let next = properties[component] else { return nil }
            value = next
        }
        if case .null = value { return nil }
        return value
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
