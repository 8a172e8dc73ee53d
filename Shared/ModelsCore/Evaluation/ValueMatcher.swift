#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tests one context value against a clause's values, with the clause values pre-parsed for the
/// operator. Each operator follows LaunchDarkly's Go evaluator (`evaluator_clause.go`).
struct ValueMatcher: Sendable {
    enum Operation: Sendable {
        case inValues, startsWith, endsWith, contains, matches
        case lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
        case before, after
        case semVerEqual, semVerLessThan, semVerGreaterThan
        /// Unknown operators (and `segmentMatch`, which is not a value test) never match.
        case never
    }

    let operation: Operation
    /// `in` values by type, and the operands of the string operators.
    let strings: [String]
    let stringSet: StringKeySet
    let numbers: [Double]
    let hasTrue: Bool
    let hasFalse: Bool
    let patterns: [RegularExpression]
    let instants: [Instant]
    let versions: [SemanticVersion]

    init(op: ClauseOperator?, values: [JSONValue]) {
        var strings: [String] = []
        var numbers: [Double] = []
        var hasTrue = false, hasFalse = false
        var patterns: [RegularExpression] = []
        var instants: [Instant] = []
        var versions: [SemanticVersion] = []
        switch op {
        case .in?:
            operation = .inValues
            // Only booleans, numbers and strings can match: LaunchDarkly's Go evaluator
            // (`ClauseFindValue`) never matches an array or object value, even an identical one.
            for value in values {
                switch value {
                case .string(let s): strings.append(s)
                case .number(let n): numbers.append(n)
                case .bool(let b): if b { hasTrue = true } else { hasFalse = true }
                case .array, .object, .null: continue
                }
            }
        case .startsWith?, .endsWith?, .contains?:
            operation = op == .startsWith ? .startsWith : op == .endsWith ? .endsWith : .contains
            strings = values.compactMap(\.stringValue)
        case .matches?:
            operation = .matches
            patterns = values.compactMap { $0.stringValue.flatMap(RegularExpression.init) }
        case .lessThan?, .lessThanOrEqual?, .greaterThan?, .greaterThanOrEqual?:
            operation = switch op! {
            case .lessThan: .lessThan
            case .lessThanOrEqual: .lessThanOrEqual
            case .greaterThan: .greaterThan
            default: .greaterThanOrEqual
            }
            numbers = values.compactMap(\.numberValue)
        case .before?, .after?:
            operation = op == .before ? .before : .after
            instants = values.compactMap(Instant.clauseValue)
        case .semVerEqual?, .semVerLessThan?, .semVerGreaterThan?:
            operation = op == .semVerEqual ? .semVerEqual : op == .semVerLessThan ? .semVerLessThan : .semVerGreaterThan
            versions = values.compactMap { $0.stringValue.flatMap(SemanticVersion.init) }
        case .segmentMatch?, nil:
            operation = .never
        }
        self.strings = strings
        stringSet = StringKeySet(operation == .inValues ? strings : [])
        self.numbers = numbers
        self.hasTrue = hasTrue
        self.hasFalse = hasFalse
        self.patterns = patterns
        self.instants = instants
        self.versions = versions
    }

    /// A context value against the clause: an array matches when any element does (LaunchDarkly's
    /// rule for attribute values). `stringHash` is the value's ``StringHash/fnv1a(_:)`` when known.
    @inline(__always) func matchesValueOrElement(_ value: JSONValue) -> Bool {
        if case .array(let elements) = value { return elements.contains(where: matchesAny) }
        return matchesAny(value)
    }

    /// A string value against the clause, with its precomputed hash and prefix (for `in`).
    @inline(__always) func matchesString(_ s: String, hash: UInt64, prefix: UTF8Prefix) -> Bool {
        if operation == .inValues { return stringSet.contains(s, hash: hash, prefix: prefix) }
        return matchesAny(.string(s))
    }

    /// True when `value` satisfies the operator against any clause value.
    func matchesAny(_ value: JSONValue) -> Bool {
        switch operation {
        case .inValues:
            switch value {
            case .string(let s): return stringSet.contains(s)
            case .number(let n): return numbers.contains(n)
            case .bool(let b): return b ? hasTrue : hasFalse
            case .array, .object, .null: return false
            }
        case .startsWith:
            guard case .string(let s) = value else { return false }
            for prefix in strings where hasPrefix(s, prefix) { return true }
            return false
        case .endsWith:
            guard case .string(let s) = value else { return false }
            for suffix in strings where hasSuffix(s, suffix) { return true }
            return false
        case .contains:
            guard case .string(let s) = value else { return false }
            for needle in strings where containsBytes(s, needle) { return true }
            return false
        case .matches:
            guard case .string(let s) = value else { return false }
            for pattern in patterns where pattern.matches(s) { return true }
            return false
        case .lessThan:
            guard case .number(let n) = value else { return false }
            for bound in numbers where n < bound { return true }
            return false
        case .lessThanOrEqual:
            guard case .number(let n) = value else { return false }
            for bound in numbers where n <= bound { return true }
            return false
        case .greaterThan:
            guard case .number(let n) = value else { return false }
            for bound in numbers where n > bound { return true }
            return false
        case .greaterThanOrEqual:
            guard case .number(let n) = value else { return false }
            for bound in numbers where n >= bound { return true }
            return false
        case .before, .after:
            guard !instants.isEmpty, let instant = Instant(value) else { return false }
            let before = operation == .before
            for other in instants where before ? instant < other : other < instant { return true }
            return false
        case .semVerEqual, .semVerLessThan, .semVerGreaterThan:
            guard !versions.isEmpty, case .string(let s) = value, let version = SemanticVersion(s) else { return false }
            let expected = operation == .semVerEqual ? 0 : operation == .semVerLessThan ? -1 : 1
            for other in versions where version.compare(other) == expected { return true }
            return false
        case .never:
            return false
        }
    }
}

@inline(__always) private func hasPrefix(_ s: String, _ prefix: String) -> Bool {
    withUTF8Bytes(s, prefix) { s, p in p.count <= s.count && (p.count == 0 || memcmp(s.baseAddress!, p.baseAddress!, p.count) == 0) }
}

@inline(__always) private func hasSuffix(_ s: String, _ suffix: String) -> Bool {
    withUTF8Bytes(s, suffix) { s, p in
        p.count <= s.count && (p.count == 0 || memcmp(s.baseAddress! + (s.count - p.count), p.baseAddress!, p.count) == 0)
    }
}

private func containsBytes(_ s: String, _ needle: String) -> Bool {
    withUTF8Bytes(s, needle) { s, p in
        if p.count == 0 { return true }
        guard p.count <= s.count else { return false }
        let first = p[0]
        var start = 0
        while start <= s.count - p.count {
            if s[start] == first, memcmp(s.baseAddress! + start, p.baseAddress!, p.count) == 0 { return true }
            start += 1
        }
        return false
    }
}
