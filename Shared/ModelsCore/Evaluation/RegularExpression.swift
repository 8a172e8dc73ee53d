/// A `matches` clause value compiled once.
///
/// LaunchDarkly's Go evaluator uses RE2, which has no backtracking features. Swift's `Regex` accepts
/// a superset of RE2's syntax, so patterns using constructs RE2 rejects (lookaround, backreferences,
/// possessive quantifiers, atomic groups, conditionals, `\Z`, `\G`) are refused here too: in Go such
/// a pattern fails to compile and never matches. Matching is an unanchored search over Unicode
/// scalars, like RE2's over code points.
public struct RegularExpression: @unchecked Sendable {
    // `Regex` is immutable after construction; Swift marks it unchecked-Sendable-safe in practice but
    // not in its declaration on every platform, hence the wrapper.
    private let regex: Regex<AnyRegexOutput>

    init?(_ pattern: String) {
        guard Self.isRE2Compatible(pattern), let regex = try? Regex(pattern) else { return nil }
        self.regex = regex.matchingSemantics(.unicodeScalar)
    }

    /// True when `pattern` is a regular expression LaunchDarkly's evaluator (RE2) accepts.
    public static func compiles(_ pattern: String) -> Bool { RegularExpression(pattern) != nil }

    func matches(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }

    /// Rejects syntax that Swift's `Regex` accepts but RE2 does not.
    static func isRE2Compatible(_ pattern: String) -> Bool {
        let chars = Array(pattern.unicodeScalars)
        var i = 0
        var inClass = false
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                guard i + 1 < chars.count else { return false }
                let next = chars[i + 1]
                if !inClass {
                    switch next {
                    case "1"..."9", "k", "g", "G", "Z", "K", "R", "X", "h", "H", "V", "N":
                        return false
                    default: break
                    }
                }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                i += 1
                continue
            }
            switch c {
            case "[":
                inClass = true
                // A `]` right after `[` or `[^` is a literal member, not the end of the class.
                if i + 1 < chars.count, chars[i + 1] == "^" { i += 1 }
                if i + 1 < chars.count, chars[i + 1] == "]" { i += 1 }
            case "(":
                if i + 1 < chars.count, chars[i + 1] == "?" {
                    guard i + 2 < chars.count else { return false }
                    let kind = chars[i + 2]
                    switch kind {
                    case "=", "!", ">", "(", "|", "#": return false
                    case "<":
                        // `(?<name>` is a named group in RE2; `(?<=` and `(?<!` are lookbehind.
                        if i + 3 < chars.count, chars[i + 3] == "=" || chars[i + 3] == "!" { return false }
                    default: break
                    }
                }
            case "*", "+", "?", "}":
                if i + 1 < chars.count, chars[i + 1] == "+" { return false }
            default: break
            }
            i += 1
        }
        return true
    }
}
