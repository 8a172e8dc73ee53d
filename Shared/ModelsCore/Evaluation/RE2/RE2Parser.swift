/// Parses RE2 syntax as Go's `regexp/syntax.Parse(pattern, syntax.Perl)` does (the flags behind
/// `regexp.Compile`, which LaunchDarkly's Go evaluator uses), accepting and refusing the same patterns.
///
/// Differences from PCRE/ICU that matter for `matches` clauses: `\d \w \s \b` and the POSIX classes are
/// ASCII-only; `^`/`$` are text anchors unless `(?m)`; `$` never matches before a final `\n`; `.` does
/// not match `\n` unless `(?s)`; `[^a]` does match `\n`; `(?i)` uses Unicode simple case folding
/// (so `(?i)k` matches U+212A KELVIN SIGN). There are no backreferences, lookaround, possessive or atomic
/// groups, conditionals, `\Z`, `\G`, `\C` or `\X`.
struct RE2Parser {
    /// The deepest group nesting accepted. Go allows an expression tree 1000 deep; Vane stops at 250
    /// groups so that parsing and compiling (both recursive) stay well within a thread's stack.
    static let maxNesting = 250
    /// RE2's limit on a counted repetition (`x{n,m}` with n or m above 1000 is refused), also applied to
    /// the product of nested counts (`(x{50}){50}` is refused), as in Go.
    static let maxRepeat = 1000

    /// The most class ranges (`lo-hi` pairs) a pattern may write out, summed over its classes: about 3000
    /// `\pL`s (16 MB at most while compiling). Go's bound is larger (33 million code points).
    static let maxClassRanges = 2_000_000

    private struct Flags {
        var foldCase = false
        var multiLine = false
        var dotMatchesNewline = false
    }

    private let s: [Unicode.Scalar]
    private var i = 0
    private var flags = Flags()
    private var names: Set<String> = []
    private var depth = 0
    private var classRanges = 0

    /// The longest pattern accepted, in UTF-8 bytes. Go has no such bound (its size limits apply later);
    /// a targeting rule never needs this much, and the bound caps the parser's work and memory up front.
    static let maxPatternLength = 65_536

    private init(_ pattern: String) { s = Array(pattern.unicodeScalars) }

    static func parse(_ pattern: String) throws(RE2SyntaxError) -> RE2Node {
        guard pattern.utf8.count <= maxPatternLength else {
            throw RE2SyntaxError(code: .tooLarge, fragment: "pattern longer than \(maxPatternLength) bytes")
        }
        var parser = RE2Parser(pattern)
        let node = try parser.parseAlternation()
        if parser.i < parser.s.count {
            // Only an unmatched `)` stops the top-level alternation early.
            throw RE2SyntaxError(code: .unexpectedParen, fragment: pattern)
        }
        return node
    }

    // MARK: Structure

    /// Parses alternatives up to a `)` (not consumed) or the end.
    private mutating func parseAlternation() throws(RE2SyntaxError) -> RE2Node {
        var alternatives: [RE2Node] = []
        var items: [RE2Node] = []
        var lastWasRepeat = false
        loop: while i < s.count {
            let c = s[i]
            var isRepeat = false
            switch c {
            case ")":
                break loop
            case "|":
                alternatives.append(Self.concatenation(items))
                items = []
                i += 1
            case "(":
                if let group = try parseGroup() { items.append(group) }
            case "^":
                items.append(.assertion(flags.multiLine ? .beginLine : .beginText))
                i += 1
            case "$":
                items.append(.assertion(flags.multiLine ? .endLine : .endText))
                i += 1
            case ".":
                items.append(flags.dotMatchesNewline ? .anyCharacter : .anyCharacterExceptNewline)
                i += 1
            case "[":
                items.append(try parseClass())
            case "*", "+", "?":
                let start = i
                i += 1
                let bounds: (Int, Int?) = c == "*" ? (0, nil) : c == "+" ? (1, nil) : (0, 1)
                try repeatLast(&items, min: bounds.0, max: bounds.1, start: start, afterRepeat: lastWasRepeat)
                isRepeat = true
            case "{":
                let start = i
                if let (min, max, end) = parseRepeatBraces() {
                    i = end
                    // Go: too big a number (over 1e8) reads as -1 and is refused like any count above 1000.
                    guard min >= 0, min <= Self.maxRepeat, (max ?? 0) <= Self.maxRepeat, max.map({ min <= $0 }) ?? true
                    else { throw error(.invalidRepeatSize, from: start) }
                    try repeatLast(&items, min: min, max: max, start: start, afterRepeat: lastWasRepeat)
                    isRepeat = true
                } else {
                    // A `{` that does not start a valid count is a literal.
                    items.append(literal(c.value))
                    i += 1
                }
            case "\\":
                try parseBackslash(into: &items)
            default:
                items.append(literal(c.value))
                i += 1
            }
            lastWasRepeat = isRepeat
        }
        alternatives.append(Self.concatenation(items))
        return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
    }

    private static func concatenation(_ items: [RE2Node]) -> RE2Node {
        switch items.count {
        case 0: .empty
        case 1: items[0]
        default: .concatenation(items)
        }
    }

    /// Applies a repetition operator to the last item. As in Perl and RE2, stacked operators (`a**`,
    /// `a+*`, the possessive `a*+`, `a{2}{3}`) are errors, not doubled repetitions.
    private mutating func repeatLast(
        _ items: inout [RE2Node], min: Int, max: Int?, start: Int, afterRepeat: Bool
    ) throws(RE2SyntaxError) {
        if i < s.count, s[i] == "?" { i += 1 }  // non-greedy: same language, so the same boolean result
        if afterRepeat { throw error(.invalidRepeatOperator, from: start) }
        guard let operand = items.popLast() else { throw error(.missingRepeatArgument, from: start) }
        let node = RE2Node.repetition(operand, min: min, max: max)
        if min >= 2 || (max ?? 0) >= 2, !Self.repeatIsValid(node, Self.maxRepeat) {
            throw error(.invalidRepeatSize, from: start)
        }
        items.append(node)
    }

    /// Go's `repeatIsValid`: the product of nested repetition counts must stay within `limit`.
    private static func repeatIsValid(_ node: RE2Node, _ limit: Int) -> Bool {
        var limit = limit
        switch node {
        case .repetition(let sub, let min, let max):
            if max == 0 { return true }
            let m = max ?? min
            if m > limit { return false }
            if m > 0 { limit /= m }
            return repeatIsValid(sub, limit)
        case .concatenation(let subs), .alternation(let subs):
            return subs.allSatisfy { repeatIsValid($0, limit) }
        default:
            return true
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at `i`: the bounds and the index after `}`, or nil when this is no count
    /// (then `{` is a literal). Leading zeros make it no count, as in Go.
    private func parseRepeatBraces() -> (Int, Int?, Int)? {
        var j = i + 1
        guard let min = parseInt(&j), j < s.count else { return nil }
        var max: Int? = min
        if s[j] == "," {
            j += 1
            guard j < s.count else { return nil }
            if s[j] == "}" {
                max = nil
            } else {
                guard let m = parseInt(&j) else { return nil }
                max = m
            }
        }
        guard j < s.count, s[j] == "}" else { return nil }
        // A too-big maximum makes the minimum invalid in Go (`min = -1`).
        if let m = max, m < 0 { return (-1, max, j + 1) }
        return (min, max, j + 1)
    }

    /// Decimal digits without a leading zero; a value of 1e8 or more reads as -1 (refused later).
    private func parseInt(_ j: inout Int) -> Int? {
        guard j < s.count, isDigit(s[j]) else { return nil }
        if s[j] == "0", j + 1 < s.count, isDigit(s[j + 1]) { return nil }
        var n = 0
        while j < s.count, isDigit(s[j]) {
            if n >= 100_000_000 { n = -1 } else if n >= 0 { n = n * 10 + Int(s[j].value - 0x30) }
            j += 1
        }
        return n
    }

    /// A group at `(`: capturing, named, non-capturing with flags, or a bare flag change (nil).
    private mutating func parseGroup() throws(RE2SyntaxError) -> RE2Node? {
        let start = i
        if i + 1 < s.count, s[i + 1] == "?" {
            // Named capture: `(?P<name>re)` or `(?<name>re)`. Lookbehind `(?<=`/`(?<!` fails here as a bad name.
            var nameStart: Int?
            if i + 4 < s.count, s[i + 2] == "P", s[i + 3] == "<" {
                nameStart = i + 4
            } else if i + 3 < s.count, s[i + 2] == "<" {
                nameStart = i + 3
            }
            if let nameStart {
                guard let end = s[nameStart...].firstIndex(of: ">") else {
                    throw error(.invalidNamedCapture, from: start, to: s.count)
                }
                let name = String(String.UnicodeScalarView(s[nameStart..<end]))
                guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0 == "_" || isAlphanumeric($0) }) else {
                    throw error(.invalidNamedCapture, from: start, to: end + 1)
                }
                guard names.insert(name).inserted else { throw RE2SyntaxError(code: .duplicateNamedCapture, fragment: name) }
                i = end + 1
                return try parseGroupBody(start: start)
            }
            return try parseFlags(start: start)
        }
        i += 1
        return try parseGroupBody(start: start)
    }

    /// The body of a group whose opening has been consumed, through its `)`; flags set inside end with it.
    private mutating func parseGroupBody(start: Int) throws(RE2SyntaxError) -> RE2Node {
        depth += 1
        if depth > Self.maxNesting { throw error(.nestingDepth, from: start) }
        let saved = flags
        let body = try parseAlternation()
        guard i < s.count, s[i] == ")" else { throw error(.missingParen, from: 0, to: s.count) }
        i += 1
        flags = saved
        depth -= 1
        return body
    }

    /// `(?flags)` or `(?flags:re)` with flags among `i m s U`, optionally negated after `-`.
    private mutating func parseFlags(start: Int) throws(RE2SyntaxError) -> RE2Node? {
        var j = i + 2
        var newFlags = flags
        var negate = false
        var sawFlag = false
        while j < s.count {
            let c = s[j]
            j += 1
            switch c {
            case "i": newFlags.foldCase = !negate; sawFlag = true
            case "m": newFlags.multiLine = !negate; sawFlag = true
            case "s": newFlags.dotMatchesNewline = !negate; sawFlag = true
            case "U": sawFlag = true  // ungreedy: does not change whether there is a match
            case "-":
                if negate { throw error(.invalidPerlOperator, from: start, to: j) }
                negate = true
                sawFlag = false
            case ":", ")":
                if negate, !sawFlag { throw error(.invalidPerlOperator, from: start, to: j) }
                i = j
                if c == ")" {
                    flags = newFlags
                    return nil
                }
                let saved = flags
                flags = newFlags
                let body = try parseGroupBody(start: start)
                flags = saved
                return body
            default:
                throw error(.invalidPerlOperator, from: start, to: j)
            }
        }
        throw error(.invalidPerlOperator, from: start, to: s.count)
    }

    // MARK: Escapes

    private mutating func parseBackslash(into items: inout [RE2Node]) throws(RE2SyntaxError) {
        guard i + 1 < s.count else { throw RE2SyntaxError(code: .trailingBackslash, fragment: "") }
        switch s[i + 1] {
        case "A": items.append(.assertion(.beginText)); i += 2
        case "z": items.append(.assertion(.endText)); i += 2
        case "b": items.append(.assertion(.wordBoundary)); i += 2
        case "B": items.append(.assertion(.notWordBoundary)); i += 2
        case "C": throw error(.invalidEscape, from: i, to: i + 2)  // any byte: not supported by Go
        case "Q":
            // `\Q…\E`: literal text up to `\E` or the end.
            i += 2
            while i < s.count {
                if s[i] == "\\", i + 1 < s.count, s[i + 1] == "E" {
                    i += 2
                    break
                }
                items.append(literal(s[i].value))
                i += 1
            }
        case "p", "P":
            items.append(try counted(parseUnicodeClass()))
        case "d", "D", "s", "S", "w", "W":
            items.append(try counted(parsePerlClass()))
        default:
            items.append(literal(try parseEscape()))
        }
    }

    /// A single-character escape at `\`: octal, hex, C escapes and escaped ASCII punctuation.
    private mutating func parseEscape() throws(RE2SyntaxError) -> UInt32 {
        let start = i
        i += 1
        guard i < s.count else { throw RE2SyntaxError(code: .trailingBackslash, fragment: "") }
        let c = s[i]
        i += 1
        switch c {
        case "1"..."7" where i >= s.count || !isOctal(s[i]):
            // A single non-zero digit is a backreference, which RE2 does not support.
            throw error(.invalidEscape, from: start)
        case "0"..."7":
            var value = c.value - 0x30
            for _ in 1..<3 {
                guard i < s.count, isOctal(s[i]) else { break }
                value = value * 8 + s[i].value - 0x30
                i += 1
            }
            return value
        case "x":
            guard i < s.count else { throw error(.invalidEscape, from: start) }
            if s[i] == "{" {
                i += 1
                var value: UInt32 = 0
                var digits = 0
                while true {
                    guard i < s.count else { throw error(.invalidEscape, from: start) }
                    let d = s[i]
                    i += 1
                    if d == "}" { break }
                    guard let v = hexValue(d) else { throw error(.invalidEscape, from: start) }
                    value = value * 16 + v
                    guard value <= RE2CharacterClass.maxRune else { throw error(.invalidEscape, from: start) }
                    digits += 1
                }
                guard digits > 0 else { throw error(.invalidEscape, from: start) }
                return value
            }
            guard i + 1 < s.count, let hi = hexValue(s[i]), let lo = hexValue(s[i + 1]) else {
                i = min(i + 2, s.count)
                throw error(.invalidEscape, from: start)
            }
            i += 2
            return hi * 16 + lo
        // No `\b` here: outside a class it is a word boundary, and inside one Go refuses it.
        case "a": return 0x07
        case "f": return 0x0C
        case "n": return 0x0A
        case "r": return 0x0D
        case "t": return 0x09
        case "v": return 0x0B
        default:
            // Escaped ASCII punctuation is itself; `\q`, `\é` and the like are errors.
            if c.value < 0x80, !isAlphanumeric(c) { return c.value }
            throw error(.invalidEscape, from: start)
        }
    }

    /// `\d \D \s \S \w \W` at `\`: ASCII classes (case-folded under `(?i)`, as Go's `appendGroup`).
    private mutating func parsePerlClass() -> RE2CharacterClass {
        let letter = s[i + 1]
        i += 2
        let base: RE2CharacterClass = switch letter {
        case "d", "D": .perlDigit
        case "s", "S": .perlSpace
        default: .perlWord
        }
        let folded = flags.foldCase ? base.caseFolded() : base
        return letter.properties.isUppercase ? folded.negated() : folded
    }

    /// `\pL`, `\p{Greek}`, `\P{…}`, `\p{^…}` at `\`.
    private mutating func parseUnicodeClass() throws(RE2SyntaxError) -> RE2CharacterClass {
        let start = i
        var negate = s[i + 1] == "P"
        i += 2
        guard i < s.count else { throw error(.invalidCharacterRange, from: start) }
        var name: String
        if s[i] != "{" {
            name = String(s[i])
            i += 1
        } else {
            guard let end = s[i...].firstIndex(of: "}") else { throw error(.invalidCharacterRange, from: start, to: s.count) }
            name = String(String.UnicodeScalarView(s[(i + 1)..<end]))
            i = end + 1
        }
        if name.hasPrefix("^") {
            negate.toggle()
            name.removeFirst()
        }
        guard let table = RE2Unicode.table(named: name) else { throw error(.invalidCharacterRange, from: start) }
        if table.inverted { negate.toggle() }
        let folded = flags.foldCase ? table.characterClass.caseFolded() : table.characterClass
        return negate ? folded.negated() : folded
    }

    // MARK: Classes

    /// `[…]` at `[`.
    private mutating func parseClass() throws(RE2SyntaxError) -> RE2Node {
        let start = i
        i += 1
        var negated = false
        if i < s.count, s[i] == "^" {
            negated = true
            i += 1
        }
        var cls = RE2CharacterClass()
        var first = true  // `]` and `-` are ordinary as the first member
        while i >= s.count || s[i] != "]" || first {
            guard i < s.count else { throw error(.missingBracket, from: start) }
            first = false
            // Merge as we go, so that `[\pL\pL\pL…]` stays the size of one `\pL`.
            if cls.ranges.count > 8192 { cls.clean() }
            // POSIX `[:alpha:]` / `[:^alpha:]`; a `[:` with no `:]` after it is an ordinary `[`.
            if s[i] == "[", i + 2 < s.count, s[i + 1] == ":", let close = findColonBracket(from: i + 2) {
                var name = String(String.UnicodeScalarView(s[(i + 2)..<close]))
                let fragmentEnd = close + 2
                var negate = false
                if name.hasPrefix("^") {
                    negate = true
                    name.removeFirst()
                }
                guard let posix = RE2CharacterClass.posix[name] else {
                    throw error(.invalidCharacterRange, from: i, to: fragmentEnd)
                }
                let folded = flags.foldCase ? posix.caseFolded() : posix
                cls.add(negate ? folded.negated() : folded)
                i = fragmentEnd
                continue
            }
            if s[i] == "\\", i + 1 < s.count {
                switch s[i + 1] {
                case "p", "P":
                    cls.add(try parseUnicodeClass())
                    continue
                case "d", "D", "s", "S", "w", "W":
                    cls.add(parsePerlClass())
                    continue
                default: break
                }
            }
            let rangeStart = i
            let lo = try parseClassCharacter(classStart: start)
            var hi = lo
            // `[a-]` is `a` or `-`.
            if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                i += 1
                hi = try parseClassCharacter(classStart: start)
                if hi < lo { throw error(.invalidCharacterRange, from: rangeStart) }
            }
            if flags.foldCase {
                cls.add(RE2CharacterClass(unsorted: [lo, hi]).caseFolded())
            } else {
                cls.add(lo, hi)
            }
        }
        i += 1
        cls.clean()
        // Perl mode (RE2's default): `[^a]` matches `\n` too.
        return try counted(negated ? cls.negated() : cls)
    }

    private mutating func parseClassCharacter(classStart: Int) throws(RE2SyntaxError) -> UInt32 {
        guard i < s.count else { throw error(.missingBracket, from: classStart) }
        if s[i] == "\\" { return try parseEscape() }
        defer { i += 1 }
        return s[i].value
    }

    private func findColonBracket(from j: Int) -> Int? {
        var k = j
        while k + 1 < s.count {
            if s[k] == ":", s[k + 1] == "]" { return k }
            k += 1
        }
        return nil
    }

    // MARK: Helpers

    /// A literal, or under `(?i)` the class of everything equivalent to it under simple case folding.
    private func literal(_ rune: UInt32) -> RE2Node {
        if flags.foldCase {
            let orbit = RE2Unicode.orbit(of: rune)
            if orbit.count > 1 { return .characterClass(RE2CharacterClass(unsorted: orbit.flatMap { [$0, $0] })) }
        }
        return .characterClass(RE2CharacterClass(unsorted: [rune, rune]))
    }

    /// A class node, counted against `maxClassRanges`.
    private mutating func counted(_ cls: RE2CharacterClass) throws(RE2SyntaxError) -> RE2Node {
        classRanges += cls.ranges.count / 2
        if classRanges > Self.maxClassRanges { throw RE2SyntaxError(code: .tooLarge, fragment: "too many class ranges") }
        return .characterClass(cls)
    }

    private func error(_ code: RE2SyntaxError.Code, from start: Int, to end: Int? = nil) -> RE2SyntaxError {
        let stop = Swift.min(Swift.max(end ?? i, start), s.count)
        return RE2SyntaxError(code: code, fragment: String(String.UnicodeScalarView(s[start..<stop])))
    }

    private func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
    private func isOctal(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x37 }
    private func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x80 && RE2CharacterClass.isWordRune(c.value) && c != "_"
    }

    private func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c.value {
        case 0x30...0x39: c.value - 0x30
        case 0x41...0x46: c.value - 0x41 + 10
        case 0x61...0x66: c.value - 0x61 + 10
        default: nil
        }
    }
}
