/// Tests one context value against a clause's values, with the clause values pre-parsed for the
/// operator. Each operator follows LaunchDarkly's Go evaluator (`evaluator_clause.go`).
enum ValueMatcher: Sendable {
    case inValues(InValues)
    case startsWith([String])
    case endsWith([String])
    case contains([String])
    case matches([RegularExpression])
    case numeric(NumericComparison, [Double])
    case date(before: Bool, [Instant])
    case semVer(expected: Int, [SemanticVersion])
    /// Unknown operators (and values that can never match) never match.
    case never

    enum NumericComparison: Sendable {
        case lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
    }

    init(op: ClauseOperator?, values: [JSONValue]) {
        switch op {
        case .in?: self = .inValues(InValues(values))
        case .startsWith?: self = .startsWith(values.compactMap(\.stringValue))
        case .endsWith?: self = .endsWith(values.compactMap(\.stringValue))
        case .contains?: self = .contains(values.compactMap(\.stringValue))
        case .matches?: self = .matches(values.compactMap { $0.stringValue.flatMap(RegularExpression.init) })
        case .lessThan?: self = .numeric(.lessThan, values.compactMap(\.numberValue))
        case .lessThanOrEqual?: self = .numeric(.lessThanOrEqual, values.compactMap(\.numberValue))
        case .greaterThan?: self = .numeric(.greaterThan, values.compactMap(\.numberValue))
        case .greaterThanOrEqual?: self = .numeric(.greaterThanOrEqual, values.compactMap(\.numberValue))
        case .before?: self = .date(before: true, values.compactMap(Instant.clauseValue))
        case .after?: self = .date(before: false, values.compactMap(Instant.clauseValue))
        case .semVerEqual?: self = .semVer(expected: 0, values.compactMap { $0.stringValue.flatMap(SemanticVersion.init) })
        case .semVerLessThan?: self = .semVer(expected: -1, values.compactMap { $0.stringValue.flatMap(SemanticVersion.init) })
        case .semVerGreaterThan?: self = .semVer(expected: 1, values.compactMap { $0.stringValue.flatMap(SemanticVersion.init) })
        case .segmentMatch?, nil: self = .never
        }
    }

    /// True when `value` satisfies the operator against any clause value.
    func matchesAny(_ value: JSONValue) -> Bool {
        switch self {
        case .inValues(let set):
            return set.contains(value)
        case .startsWith(let prefixes):
            guard case .string(let s) = value else { return false }
            for prefix in prefixes where hasPrefix(s, prefix) { return true }
            return false
        case .endsWith(let suffixes):
            guard case .string(let s) = value else { return false }
            for suffix in suffixes where hasSuffix(s, suffix) { return true }
            return false
        case .contains(let needles):
            guard case .string(let s) = value else { return false }
            for needle in needles where containsBytes(s, needle) { return true }
            return false
        case .matches(let patterns):
            guard case .string(let s) = value else { return false }
            for pattern in patterns where pattern.matches(s) { return true }
            return false
        case .numeric(let comparison, let bounds):
            guard case .number(let n) = value else { return false }
            for bound in bounds {
                let result = switch comparison {
                case .lessThan: n < bound
                case .lessThanOrEqual: n <= bound
                case .greaterThan: n > bound
                case .greaterThanOrEqual: n >= bound
                }
                if result { return true }
            }
            return false
        case .date(let before, let instants):
            guard !instants.isEmpty, let instant = Instant(value) else { return false }
            for other in instants where before ? instant < other : other < instant { return true }
            return false
        case .semVer(let expected, let versions):
            guard !versions.isEmpty, case .string(let s) = value, let version = SemanticVersion(s) else { return false }
            for other in versions where version.compare(other) == expected { return true }
            return false
        case .never:
            return false
        }
    }
}

/// The values of an `in` clause, grouped by JSON type: equality never crosses types (`true` is not
/// `1`), numbers compare numerically (`1` equals `1.0`), strings byte-wise. Only booleans, numbers
/// and strings can match: LaunchDarkly's Go evaluator (`ClauseFindValue`) never matches an array or
/// object value, even an identical one.
struct InValues: Sendable {
    let strings: StringKeySet
    let numbers: [Double]
    let hasTrue: Bool
    let hasFalse: Bool

    init(_ values: [JSONValue]) {
        var strings: [String] = []
        var numbers: [Double] = []
        var hasTrue = false, hasFalse = false
        for value in values {
            switch value {
            case .string(let s): strings.append(s)
            case .number(let n): numbers.append(n)
            case .bool(let b): if b { hasTrue = true } else { hasFalse = true }
            case .array, .object, .null: continue
            }
        }
        self.strings = StringKeySet(strings)
        self.numbers = numbers
        self.hasTrue = hasTrue
        self.hasFalse = hasFalse
    }

    func contains(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let s): return strings.contains(s)
        case .number(let n): return numbers.contains(n)
        case .bool(let b): return b ? hasTrue : hasFalse
        case .array, .object, .null: return false
        }
    }
}

@inline(__always) private func hasPrefix(_ s: String, _ prefix: String) -> Bool {
    s.utf8.count >= prefix.utf8.count && s.utf8.starts(with: prefix.utf8)
}

@inline(__always) private func hasSuffix(_ s: String, _ suffix: String) -> Bool {
    s.utf8.count >= suffix.utf8.count && s.utf8.reversed().starts(with: suffix.utf8.reversed())
}

private func containsBytes(_ s: String, _ needle: String) -> Bool {
    let haystack = Array(s.utf8)
    let pattern = Array(needle.utf8)
    if pattern.isEmpty { return true }
    guard haystack.count >= pattern.count else { return false }
    for start in 0...(haystack.count - pattern.count) where haystack[start] == pattern[0] {
        if haystack[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
    }
    return false
}
