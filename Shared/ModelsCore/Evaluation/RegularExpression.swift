import Synchronization

/// A `matches` clause value compiled once, with RE2 semantics.
///
/// LaunchDarkly's reference evaluator (Go) compiles `matches` patterns with `regexp.Compile` (RE2
/// syntax) and tests them with `MatchString`, an unanchored search. Vane parses and matches with its own
/// RE2-compatible engine (`RE2Parser`, `RE2Program`) so that results agree with Go's, including where
/// RE2 differs from PCRE or ICU: ASCII-only `\d \w \s \b` and POSIX classes, `$` only at the very end
/// unless `(?m)`, Unicode simple case folding under `(?i)`. A pattern Go refuses (backreferences,
/// lookaround, possessive quantifiers, atomic groups, repeat counts above 1000, …) fails to compile
/// here too and never matches. See docs/evaluation.md.
public struct RegularExpression: Sendable {
    private let program: RE2Program

    init?(_ pattern: String) {
        guard let program = try? Self.compile(pattern) else { return nil }
        self.program = program
    }

    /// True when `pattern` is a regular expression LaunchDarkly's evaluator (RE2) accepts.
    public static func compiles(_ pattern: String) -> Bool { (try? compile(pattern)) != nil }

    /// Why RE2 refuses `pattern` (a message in the style of Go's), or nil when it compiles.
    public static func syntaxError(_ pattern: String) -> String? {
        do {
            _ = try compile(pattern)
            return nil
        } catch {
            return error.description
        }
    }

    func matches(_ text: String) -> Bool { program.matches(text) }

    // MARK: Cache

    /// Compiled programs (and refusals) by pattern. Flags are recompiled whenever the data of an
    /// environment changes, usually with the same patterns; the cache makes that a lookup. It holds at
    /// most `cacheLimit` patterns and is emptied when full (patterns are few; the bound only stops a
    /// stream of distinct patterns from growing it without end).
    private static let cache = Mutex<[String: Result<RE2Program, RE2SyntaxError>]>([:])
    static let cacheLimit = 4096
    /// Patterns longer than this are compiled each time rather than kept as cache keys.
    static let cacheMaxPatternLength = 4096

    static func compile(_ pattern: String) throws(RE2SyntaxError) -> RE2Program {
        let cacheable = pattern.utf8.count <= cacheMaxPatternLength
        if cacheable, let cached = cache.withLock({ $0[pattern] }) { return try cached.get() }
        let result: Result<RE2Program, RE2SyntaxError>
        do {
            result = .success(try RE2Program(pattern: pattern))
        } catch {
            result = .failure(error)
        }
        if cacheable {
            cache.withLock { entries in
                if entries.count >= cacheLimit { entries.removeAll(keepingCapacity: true) }
                entries[pattern] = result
            }
        }
        return try result.get()
    }
}
