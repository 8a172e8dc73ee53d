/// A problem that aborts the whole evaluation, prerequisites' dependents included, with
/// `MALFORMED_FLAG`: a clause with an invalid attribute reference, a prerequisite or segment cycle,
/// a malformed segment rule. (An out-of-range variation or an empty rollout only makes the flag that
/// has it return `MALFORMED_FLAG`; a dependent then sees a failed prerequisite.)
struct AbortEvaluation: Error {}

/// One link of the chain of flags being evaluated (prerequisites), root first. Links live on the
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

/// One link of the chain of segments being evaluated (a segment rule can match on other segments).
/// Segments always come from the snapshot's table, where keys are unique, so comparing identities
/// is comparing keys, without touching the strings.
struct SegmentLink {
    let segment: ObjectIdentifier
    let parent: UnsafePointer<SegmentLink>?

    static func contains(_ segment: ObjectIdentifier, in chain: UnsafePointer<SegmentLink>?) -> Bool {
        var link = chain
        while let current = link {
            if current.pointee.segment == segment { return true }
            link = current.pointee.parent
        }
        return false
    }
}

/// What an evaluation accumulates besides its result.
struct EvaluationState {
    /// Set when a big segment was consulted. Vane has no big-segment store, so it is NOT_CONFIGURED.
    var bigSegmentsStatus: EvaluationReason.BigSegmentsStatus?
}

/// The inputs of one evaluation and LaunchDarkly's algorithm (reference: go-server-sdk-evaluation,
/// `evaluator.go`, `evaluator_clause.go`, `evaluator_segment.go`, `evaluator_bucketing.go`).
struct Evaluation {
    let data: EvaluationData.Storage
    /// The individual contexts, unretained: the caller's ``EvaluationContext`` keeps them alive for
    /// the whole evaluation, so they are read as guaranteed references, without reference counting.
    let contexts: [Unmanaged<SingleKindContext>]
    /// The `user` context, if any: segments' included and excluded lists are user keys.
    let user: Unmanaged<SingleKindContext>?
    /// True for a single-kind `user` context (segments skip their per-kind lists for it).
    let isSingleUser: Bool

    init(data: EvaluationData, context: EvaluationContext) {
        self.data = data.storage
        contexts = context.unmanagedContexts
        var user: Unmanaged<SingleKindContext>?
        for member in contexts where member._withUnsafeGuaranteedRef({ $0.kindPrefix == UTF8Prefix.user }) {
            user = member
        }
        self.user = user
        isSingleUser = contexts.count == 1 && user != nil
    }

    /// The individual context of `kind`, whose ``UTF8Prefix`` is `prefix`.
    @inline(__always) func context(ofKind kind: String, prefix: UTF8Prefix) -> Unmanaged<SingleKindContext>? {
        for context in contexts where context._withUnsafeGuaranteedRef({ $0.kindPrefix.equals(prefix, strings: $0.kind, kind) }) {
            return context
        }
        return nil
    }

    func evaluate<Observer: EvaluationObserver>(
        _ flag: CompiledFlag, prerequisiteChain: UnsafePointer<ChainLink>?, state: inout EvaluationState,
        observer: inout Observer
    ) throws(AbortEvaluation) -> EvaluationDetail {
        guard flag.on else { return Self.offValue(flag, reason: .off) }

        if !flag.prerequisites.isEmpty {
            let failure = try withUnsafePointer(to: ChainLink(key: flag.key, parent: prerequisiteChain)) {
                (chain) throws(AbortEvaluation) -> EvaluationReason? in
                try checkPrerequisites(flag, chain: chain, state: &state, observer: &observer)
            }
            if let failure { return Self.offValue(flag, reason: failure) }
        }

        for target in flag.targets {
            if let context = context(ofKind: target.kind, prefix: target.kindPrefix),
               context._withUnsafeGuaranteedRef({ target.keys.contains($0.key, hash: $0.keyHash, prefix: $0.keyPrefix) }) {
                return Self.variation(flag, target.variation, reason: .targetMatch)
            }
        }

        for index in flag.rules.indices {
            // Only whether the rule matched crosses the closure: an optional detail in a `Result` was
            // copied three times on its way out, a tenth of a rollout evaluation.
            let matched = flag.rules[index]._withUnsafeGuaranteedRef { rule in
                Result { () throws(AbortEvaluation) in try clausesMatch(rule.clauses, segmentChain: nil, state: &state) }
            }
            if try matched.get() {
                return flag.rules[index]._withUnsafeGuaranteedRef { rule in
                    result(flag, rule.result, reason: .ruleMatch(index: index, id: rule.id))
                }
            }
        }
        return result(flag, flag.fallthrough, reason: .fallthrough())
    }

    /// nil when every prerequisite passes, else the `PREREQUISITE_FAILED` reason.
    private func checkPrerequisites<Observer: EvaluationObserver>(
        _ flag: CompiledFlag, chain: UnsafePointer<ChainLink>, state: inout EvaluationState, observer: inout Observer
    ) throws(AbortEvaluation) -> EvaluationReason? {
        for index in flag.prerequisites.indices {
            let prerequisite = flag.prerequisites[index]
            guard let prerequisiteFlag = data.flagTable.value(
                prerequisite.key, hash: flag.prerequisiteHashes[index], prefix: flag.prerequisitePrefixes[index]
            ) else {
                return .prerequisiteFailed(prerequisite.key)
            }
            if ChainLink.contains(prerequisiteFlag.key, in: chain) { throw AbortEvaluation() }
            let detail = try evaluate(prerequisiteFlag, prerequisiteChain: chain, state: &state, observer: &observer)
            // An off prerequisite fails even when its off variation is the required one.
            let passed = prerequisiteFlag.on && detail.variationIndex == prerequisite.variation
            observer.prerequisiteEvaluated(prerequisiteFlag, detail: detail, dependent: flag)
            if !passed { return .prerequisiteFailed(prerequisite.key) }
        }
        return nil
    }

    @inline(__always) static func offValue(_ flag: CompiledFlag, reason: consuming EvaluationReason) -> EvaluationDetail {
        guard let offVariation = flag.offVariation else {
            return EvaluationDetail(value: .null, variationIndex: nil, reason: reason)
        }
        return Self.variation(flag, offVariation, reason: reason)
    }

    @inline(__always) static func variation(_ flag: CompiledFlag, _ index: Int, reason: consuming EvaluationReason) -> EvaluationDetail {
        guard index >= 0, index < flag.variations.count else { return .error(.malformedFlag) }
        return EvaluationDetail(value: flag.variations[index], variationIndex: index, reason: reason)
    }

    private func result(_ flag: CompiledFlag, _ choice: CompiledResult, reason: consuming EvaluationReason) -> EvaluationDetail {
        switch choice {
        case .variation(let index):
            return Self.variation(flag, index, reason: reason)
        case .malformed:
            return .error(.malformedFlag)
        case .rollout(let rollout):
            guard let (index, inExperiment) = rolloutVariation(rollout, flagPrefix: flag.bucketPrefix) else {
                return .error(.malformedFlag)
            }
            reason.inExperiment = inExperiment
            return Self.variation(flag, index, reason: reason)
        }
    }

    /// The rollout's variation and whether the result is in an experiment; nil for an invalid
    /// `bucketBy` reference.
    private func rolloutVariation(_ rollout: CompiledRollout, flagPrefix: [UInt8]) -> (Int, Bool)? {
        if let bucketBy = rollout.bucketBy, !bucketBy.isValid { return nil }
        var bucket = 0.0
        var contextLacksKind = false
        if let context = context(ofKind: rollout.contextKind, prefix: rollout.contextKindPrefix) {
            bucket = context._withUnsafeGuaranteedRef {
                bucketValue($0, attribute: rollout.bucketBy, prefix: rollout.seedPrefix ?? flagPrefix)
            }
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

    /// The bucket of `context` for hash prefix `prefix`: by key, or by a string or integer
    /// attribute; any other attribute value (absent, boolean, fractional...) buckets at 0.
    private func bucketValue(_ context: SingleKindContext, attribute: CompiledAttribute?, prefix: [UInt8]) -> Double {
        guard let attribute else { return Bucketing.bucket(prefix: prefix, value: context.key) }
        switch attribute.value(in: context) {
        case .string(let s)?:
            return Bucketing.bucket(prefix: prefix, value: s)
        case .number(let n)?:
            guard let integer = JSONValue.exactInteger(n) else { return 0 }
            return Bucketing.bucket(prefix: prefix, value: integer)
        default:
            return 0
        }
    }

    private func clausesMatch(
        _ clauses: [Unmanaged<CompiledClause>], segmentChain: UnsafePointer<SegmentLink>?, state: inout EvaluationState
    ) throws(AbortEvaluation) -> Bool {
        // The flag or segment keeps its clauses alive for the whole evaluation, so they are read as
        // guaranteed references, without the retain/release pair per clause that loading a strong
        // reference from an array costs (reference counting was most of an evaluation's time).
        // `Result` carries the typed error out of the closure without boxing it.
        for index in clauses.indices {
            let matched = clauses[index]._withUnsafeGuaranteedRef { clause in
                Result { () throws(AbortEvaluation) in try clauseMatches(clause, segmentChain: segmentChain, state: &state) }
            }
            if !(try matched.get()) { return false }
        }
        return true
    }

    private func clauseMatches(
        _ clause: CompiledClause, segmentChain: UnsafePointer<SegmentLink>?, state: inout EvaluationState
    ) throws(AbortEvaluation) -> Bool {
        switch clause.subject {
        case .segments:
            for index in clause.segmentKeys.indices {
                guard let position = data.segmentTable.index(
                    clause.segmentKeys[index], hash: clause.segmentKeyHashes[index], prefix: clause.segmentKeyPrefixes[index]
                ) else {
                    continue
                }
                let contained = data.unmanagedSegments[position]._withUnsafeGuaranteedRef { segment in
                    Result { () throws(AbortEvaluation) in try segmentContains(segment, chain: segmentChain, state: &state) }
                }
                if try contained.get() { return !clause.negate }
            }
            return clause.negate
        case .invalidAttribute:
            throw AbortEvaluation()
        case .kinds:
            var matched = false
            for context in contexts where context._withUnsafeGuaranteedRef({ clause.matcher.matchesAny(.string($0.kind)) }) {
                matched = true
                break
            }
            return matched != clause.negate
        case .attribute:
            // A missing context kind or attribute is a non-match whatever `negate` says.
            guard let context = context(ofKind: clause.contextKind, prefix: clause.contextKindPrefix),
                  let matched = context._withUnsafeGuaranteedRef({ clause.attribute?.matches(clause.matcher, in: $0) }) else {
                return false
            }
            return matched != clause.negate
        }
    }

    private func segmentContains(
        _ segment: CompiledSegment, chain: UnsafePointer<SegmentLink>?, state: inout EvaluationState
    ) throws(AbortEvaluation) -> Bool {
        let identity = ObjectIdentifier(segment)
        if SegmentLink.contains(identity, in: chain) { throw AbortEvaluation() }
        return try withUnsafePointer(to: SegmentLink(segment: identity, parent: chain)) {
            (link) throws(AbortEvaluation) -> Bool in
            try segmentContains(segment, link: link, state: &state)
        }
    }

    private func segmentContains(
        _ segment: CompiledSegment, link: UnsafePointer<SegmentLink>, state: inout EvaluationState
    ) throws(AbortEvaluation) -> Bool {
        if segment.unbounded {
            // Big segments keep membership in an external store, which Vane does not have: report
            // NOT_CONFIGURED and, as LaunchDarkly does without a store, fall through to the rules.
            guard segment.hasGeneration else {
                state.bigSegmentsStatus = .notConfigured
                return false
            }
            guard context(ofKind: segment.unboundedContextKind, prefix: segment.unboundedContextKindPrefix) != nil else { return false }
            state.bigSegmentsStatus = .notConfigured
        } else {
            // Go skips the per-kind lists for a single user context (user keys live in included/excluded).
            if let user, user._withUnsafeGuaranteedRef({ segment.included.contains($0.key, hash: $0.keyHash, prefix: $0.keyPrefix) }) {
                return true
            }
            if !isSingleUser, matchesAny(segment.includedContexts) { return true }
            if let user, user._withUnsafeGuaranteedRef({ segment.excluded.contains($0.key, hash: $0.keyHash, prefix: $0.keyPrefix) }) {
                return false
            }
            if !isSingleUser, matchesAny(segment.excludedContexts) { return false }
        }
        for index in segment.rules.indices {
            let matched = segment.rules[index]._withUnsafeGuaranteedRef { rule in
                Result { () throws(AbortEvaluation) in try segmentRuleMatches(rule, segment: segment, link: link, state: &state) }
            }
            if try matched.get() { return true }
        }
        return false
    }

    private func matchesAny(_ targets: [CompiledSegmentTarget]) -> Bool {
        for target in targets {
            if let context = context(ofKind: target.kind, prefix: target.kindPrefix),
               context._withUnsafeGuaranteedRef({ target.keys.contains($0.key, hash: $0.keyHash, prefix: $0.keyPrefix) }) {
                return true
            }
        }
        return false
    }

    private func segmentRuleMatches(
        _ rule: CompiledSegmentRule, segment: CompiledSegment, link: UnsafePointer<SegmentLink>, state: inout EvaluationState
    ) throws(AbortEvaluation) -> Bool {
        guard try clausesMatch(rule.clauses, segmentChain: link, state: &state) else { return false }
        guard let weight = rule.weight else { return true }
        if let bucketBy = rule.bucketBy, !bucketBy.isValid { throw AbortEvaluation() }
        // Unlike a flag rollout, a segment rule never matches a context that lacks its kind.
        guard let context = context(ofKind: rule.rolloutContextKind, prefix: rule.rolloutContextKindPrefix) else { return false }
        let bucket = context._withUnsafeGuaranteedRef { bucketValue($0, attribute: rule.bucketBy, prefix: segment.bucketPrefix) }
        return bucket < Double(weight) / 100_000.0
    }
}
