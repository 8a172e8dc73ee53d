/// A problem that aborts the whole evaluation, prerequisites' dependents included, with
/// `MALFORMED_FLAG`: a clause with an invalid attribute reference, a prerequisite or segment cycle,
/// a malformed segment rule. (An out-of-range variation or an empty rollout only makes the flag that
/// has it return `MALFORMED_FLAG`; a dependent then sees a failed prerequisite.)
struct AbortEvaluation: Error {}

/// One link of the chain of flags (or segments) being evaluated, root first. Links live on the
/// stack, so cycle detection is path-based (as LaunchDarkly requires: a prerequisite reachable by
/// two paths is fine) and allocation-free.
struct ChainLink {
    let key: String
    let parent: UnsafePointer<ChainLink>?

    static func contains(_ key: String, in chain: UnsafePointer<ChainLink>?) -> Bool {
        var link = chain
        while let current = link {
            if utf8Equal(current.pointee.key, key) { return true }
            link = current.pointee.parent
        }
        return false
    }
}

/// The state of one evaluation: LaunchDarkly's algorithm (reference: go-server-sdk-evaluation,
/// `evaluator.go`, `evaluator_clause.go`, `evaluator_segment.go`, `evaluator_bucketing.go`).
struct Evaluation {
    let data: EvaluationData
    let context: EvaluationContext
    /// Set when a big segment was consulted. Vane has no big-segment store, so it is NOT_CONFIGURED.
    var bigSegmentsStatus: EvaluationReason.BigSegmentsStatus?

    init(data: EvaluationData, context: EvaluationContext) {
        self.data = data
        self.context = context
    }

    mutating func evaluate<Observer: EvaluationObserver>(
        _ compiled: CompiledFlag, prerequisiteChain: UnsafePointer<ChainLink>?, observer: inout Observer
    ) throws(AbortEvaluation) -> EvaluationDetail {
        let flag = compiled.flag
        guard flag.on else { return offValue(compiled, reason: .off) }

        if !flag.prerequisites.isEmpty {
            let failure = try withUnsafePointer(to: ChainLink(key: flag.key, parent: prerequisiteChain)) {
                (chain) throws(AbortEvaluation) -> EvaluationReason? in
                try checkPrerequisites(compiled, chain: chain, observer: &observer)
            }
            if let failure { return offValue(compiled, reason: failure) }
        }

        for target in compiled.targets {
            if let index = context.index(ofKind: target.kind), target.keys.contains(context.individualContexts[index].key) {
                return variation(compiled, target.variation, reason: .targetMatch)
            }
        }

        for (index, rule) in compiled.rules.enumerated() {
            if try ruleMatches(rule.clauses, segmentChain: nil) {
                return result(compiled, rule.result, reason: .ruleMatch(index: index, id: rule.id))
            }
        }
        return result(compiled, compiled.fallthrough, reason: .fallthrough())
    }

    /// nil when every prerequisite passes, else the `PREREQUISITE_FAILED` reason.
    private mutating func checkPrerequisites<Observer: EvaluationObserver>(
        _ compiled: CompiledFlag, chain: UnsafePointer<ChainLink>, observer: inout Observer
    ) throws(AbortEvaluation) -> EvaluationReason? {
        for prerequisite in compiled.flag.prerequisites {
            guard let prerequisiteFlag = data.flags[prerequisite.key] else {
                return .prerequisiteFailed(prerequisite.key)
            }
            if ChainLink.contains(prerequisiteFlag.key, in: chain) { throw AbortEvaluation() }
            let detail = try evaluate(prerequisiteFlag, prerequisiteChain: chain, observer: &observer)
            // An off prerequisite fails even when its off variation is the required one.
            let passed = prerequisiteFlag.flag.on && detail.variationIndex == prerequisite.variation
            observer.prerequisiteEvaluated(prerequisiteFlag, detail: detail, dependent: compiled)
            if !passed { return .prerequisiteFailed(prerequisite.key) }
        }
        return nil
    }

    private func offValue(_ compiled: CompiledFlag, reason: EvaluationReason) -> EvaluationDetail {
        guard let offVariation = compiled.flag.offVariation else {
            return EvaluationDetail(value: .null, variationIndex: nil, reason: reason)
        }
        return variation(compiled, offVariation, reason: reason)
    }

    private func variation(_ compiled: CompiledFlag, _ index: Int, reason: EvaluationReason) -> EvaluationDetail {
        let variations = compiled.flag.variations
        guard index >= 0, index < variations.count else { return .error(.malformedFlag) }
        return EvaluationDetail(value: variations[index], variationIndex: index, reason: reason)
    }

    private func result(_ compiled: CompiledFlag, _ choice: CompiledVariationOrRollout, reason: EvaluationReason) -> EvaluationDetail {
        switch choice {
        case .variation(let index):
            return variation(compiled, index, reason: reason)
        case .malformed:
            return .error(.malformedFlag)
        case .rollout(let rollout):
            guard let (index, inExperiment) = rolloutVariation(rollout, flagPrefix: compiled.bucketPrefix) else {
                return .error(.malformedFlag)
            }
            var reason = reason
            reason.inExperiment = inExperiment
            return variation(compiled, index, reason: reason)
        }
    }

    /// The rollout's variation and whether the result is in an experiment; nil for an invalid
    /// `bucketBy` reference.
    private func rolloutVariation(_ rollout: CompiledRollout, flagPrefix: [UInt8]) -> (Int, Bool)? {
        if let bucketBy = rollout.bucketBy, !bucketBy.isValid { return nil }
        var bucket = 0.0
        var contextLacksKind = false
        if let index = context.index(ofKind: rollout.contextKind) {
            bucket = bucketValue(
                context.individualContexts[index], attribute: rollout.bucketBy, prefix: rollout.seedPrefix ?? flagPrefix)
        } else {
            // Go's rule: a missing context kind buckets at 0 and is never in the experiment.
            contextLacksKind = true
        }
        var sum = 0.0
        for weighted in rollout.variations {
            sum += Double(weighted.weight) / 100_000.0
            if bucket < sum {
                return (weighted.variation, rollout.isExperiment && !weighted.untracked && !contextLacksKind)
            }
        }
        // Weights short of 100000 (or rounding at the top) put the rest in the last bucket. Go does not
        // check for a missing context kind on this path, so neither do we.
        let last = rollout.variations[rollout.variations.count - 1]
        return (last.variation, rollout.isExperiment && !last.untracked)
    }

    /// The bucket of `individual` for hash prefix `prefix`: by key, or by a string or integer
    /// attribute; any other attribute value (absent, boolean, fractional...) buckets at 0.
    private func bucketValue(_ individual: SingleKindContext, attribute: AttributeReference?, prefix: [UInt8]) -> Double {
        guard let attribute else { return Bucketing.bucket(prefix: prefix, value: individual.key) }
        switch individual.value(for: attribute) {
        case .string(let s)?:
            return Bucketing.bucket(prefix: prefix, value: s)
        case .number(let n)?:
            guard let integer = JSONValue.exactInteger(n) else { return 0 }
            return Bucketing.bucket(prefix: prefix, value: integer)
        default:
            return 0
        }
    }

    private mutating func ruleMatches(_ clauses: [CompiledClause], segmentChain: UnsafePointer<ChainLink>?) throws(AbortEvaluation) -> Bool {
        for clause in clauses {
            if !(try clauseMatches(clause, segmentChain: segmentChain)) { return false }
        }
        return true
    }

    private mutating func clauseMatches(_ clause: CompiledClause, segmentChain: UnsafePointer<ChainLink>?) throws(AbortEvaluation) -> Bool {
        switch clause.target {
        case .segments(let keys):
            for key in keys {
                if let segment = data.segments[key], try segmentContains(segment, chain: segmentChain) {
                    return !clause.negate
                }
            }
            return clause.negate
        case .invalidAttribute:
            throw AbortEvaluation()
        case .kinds:
            var matched = false
            for individual in context.individualContexts where clause.matcher.matchesAny(.string(individual.kind)) {
                matched = true
                break
            }
            return matched != clause.negate
        case .attribute(let contextKind, let reference):
            // A missing context kind or attribute is a non-match whatever `negate` says.
            guard let index = context.index(ofKind: contextKind),
                let value = context.individualContexts[index].value(for: reference), !value.isNull
            else { return false }
            let matched: Bool
            if case .array(let elements) = value {
                matched = elements.contains(where: clause.matcher.matchesAny)
            } else {
                matched = clause.matcher.matchesAny(value)
            }
            return matched != clause.negate
        }
    }

    private mutating func segmentContains(_ segment: CompiledSegment, chain: UnsafePointer<ChainLink>?) throws(AbortEvaluation) -> Bool {
        if ChainLink.contains(segment.key, in: chain) { throw AbortEvaluation() }
        return try withUnsafePointer(to: ChainLink(key: segment.key, parent: chain)) {
            (link) throws(AbortEvaluation) -> Bool in
            try segmentContains(segment, link: link)
        }
    }

    private mutating func segmentContains(_ segment: CompiledSegment, link: UnsafePointer<ChainLink>) throws(AbortEvaluation) -> Bool {
        if segment.segment.unbounded {
            // Big segments keep membership in an external store, which Vane does not have: report
            // NOT_CONFIGURED and, as LaunchDarkly does without a store, fall through to the rules.
            guard segment.segment.generation != nil else {
                bigSegmentsStatus = .notConfigured
                return false
            }
            guard context.index(ofKind: segment.segment.unboundedContextKind) != nil else { return false }
            bigSegmentsStatus = .notConfigured
        } else {
            let userIndex = context.index(ofKind: "user")
            // Go skips the per-kind lists for a single user context (user keys live in included/excluded).
            let onlyUser = !context.isMulti && userIndex != nil
            if let userIndex, segment.included.contains(context.individualContexts[userIndex].key) { return true }
            if !onlyUser, matchesAny(segment.includedContexts) { return true }
            if let userIndex, segment.excluded.contains(context.individualContexts[userIndex].key) { return false }
            if !onlyUser, matchesAny(segment.excludedContexts) { return false }
        }
        for rule in segment.rules {
            if try segmentRuleMatches(rule, segment: segment, link: link) { return true }
        }
        return false
    }

    private func matchesAny(_ targets: [CompiledSegmentTarget]) -> Bool {
        for target in targets {
            if let index = context.index(ofKind: target.kind), target.keys.contains(context.individualContexts[index].key) {
                return true
            }
        }
        return false
    }

    private mutating func segmentRuleMatches(
        _ rule: CompiledSegmentRule, segment: CompiledSegment, link: UnsafePointer<ChainLink>
    ) throws(AbortEvaluation) -> Bool {
        guard try ruleMatches(rule.clauses, segmentChain: link) else { return false }
        guard let weight = rule.weight else { return true }
        if let bucketBy = rule.bucketBy, !bucketBy.isValid { throw AbortEvaluation() }
        // Unlike a flag rollout, a segment rule never matches a context that lacks its kind.
        guard let index = context.index(ofKind: rule.rolloutContextKind) else { return false }
        let bucket = bucketValue(context.individualContexts[index], attribute: rule.bucketBy, prefix: segment.bucketPrefix)
        return bucket < Double(weight) / 100_000.0
    }
}
