import ModelsCore

/// The checks shared by flag rules and segment rules.
enum ClauseValidation {
    static let operators = Set(ClauseOperator.allCases.map(\.rawValue))

    /// A context kind in flag data: absent or empty means `user`; otherwise LaunchDarkly's kind
    /// syntax, and never `kind` or `multi`.
    static func checkKind(_ kind: String?, at path: String, into problems: inout Problems) {
        guard let kind, !kind.isEmpty else { return }
        do {
            _ = try EvaluationContext.validateKind(kind)
        } catch {
            problems.add(path, error.message)
        }
    }

    /// An attribute reference as LaunchDarkly reads it (literal without a context kind).
    static func checkReference(_ text: String, ownerKind: String?, at path: String, into problems: inout Problems) {
        let reference = AttributeReference(text, ownerContextKind: ownerKind)
        if let problem = reference.problem { problems.add(path, "\(problem.rawValue): \"\(text)\"") }
    }

    static func check(_ clause: Clause, at path: String, segments: Set<String>, into problems: inout Problems) {
        checkKind(clause.contextKind, at: "\(path).contextKind", into: &problems)
        guard operators.contains(clause.op) else {
            problems.add("\(path).op", "unknown operator \"\(clause.op)\"")
            return
        }
        if clause.op == ClauseOperator.segmentMatch.rawValue {
            for (i, value) in clause.values.enumerated() {
                guard case .string(let key) = value else {
                    problems.add("\(path).values[\(i)]", "segmentMatch values must be segment keys (strings)")
                    continue
                }
                if !segments.contains(key) { problems.add("\(path).values[\(i)]", "segment \"\(key)\" does not exist in this environment") }
            }
            return
        }
        if clause.attribute.isEmpty {
            problems.add("\(path).attribute", "is required for operator \"\(clause.op)\"")
        } else {
            checkReference(clause.attribute, ownerKind: clause.contextKind, at: "\(path).attribute", into: &problems)
        }
        if clause.op == ClauseOperator.matches.rawValue {
            for (i, value) in clause.values.enumerated() {
                if case .string(let pattern) = value, RegularExpression.compiles(pattern) == false {
                    problems.add("\(path).values[\(i)]", "not a valid (RE2) regular expression: \"\(pattern)\"")
                }
            }
        }
    }

    /// A rollout's variations, weights, kind, context kind and bucketBy.
    static func check(_ rollout: Rollout, at path: String, variationCount: Int, into problems: inout Problems) {
        if rollout.variations.isEmpty { problems.add("\(path).variations", "a rollout needs at least one variation") }
        var total = 0
        for (i, weighted) in rollout.variations.enumerated() {
            checkIndex(weighted.variation, count: variationCount, at: "\(path).variations[\(i)].variation", into: &problems)
            if !(0...100_000).contains(weighted.weight) {
                problems.add("\(path).variations[\(i)].weight", "must be within 0...100000, got \(weighted.weight)")
            }
            total += max(0, weighted.weight)
        }
        if total > 100_000 { problems.add("\(path).variations", "weights add up to \(total), more than 100000") }
        if let kind = rollout.kind, kind != "rollout", kind != "experiment" {
            problems.add("\(path).kind", "must be \"rollout\" or \"experiment\", got \"\(kind)\"")
        }
        checkKind(rollout.contextKind, at: "\(path).contextKind", into: &problems)
        if let bucketBy = rollout.bucketBy, !bucketBy.isEmpty {
            checkReference(bucketBy, ownerKind: rollout.contextKind, at: "\(path).bucketBy", into: &problems)
        }
    }

    static func checkIndex(_ index: Int, count: Int, at path: String, into problems: inout Problems) {
        if index < 0 || index >= count {
            problems.add(path, "variation index \(index) is out of range (the flag has \(count) variation\(count == 1 ? "" : "s"))")
        }
    }
}
