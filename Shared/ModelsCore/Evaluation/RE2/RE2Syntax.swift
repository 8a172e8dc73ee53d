/// The syntax tree of an RE2 regular expression, after parsing (captures are plain groups: `matches`
/// only asks whether there is a match).
indirect enum RE2Node: Sendable {
    case empty
    /// One code point, or a class (a literal under `(?i)` becomes the class of its case-folding orbit).
    case characterClass(RE2CharacterClass)
    /// `.` with `(?s)`.
    case anyCharacter
    /// `.` without `(?s)`: anything but `\n`.
    case anyCharacterExceptNewline
    case assertion(RE2Assertion)
    case concatenation([RE2Node])
    case alternation([RE2Node])
    /// `x{min,max}`; `max` is nil when unbounded (`*` is `{0,}`, `+` is `{1,}`, `?` is `{0,1}`).
    case repetition(RE2Node, min: Int, max: Int?)
}

/// Zero-width assertions. RE2 has no lookaround; these are all it has.
struct RE2Assertion: OptionSet, Sendable {
    let rawValue: UInt8
    /// `^` with `(?m)`: at the start of the text or after `\n`.
    static let beginLine = RE2Assertion(rawValue: 1 << 0)
    /// `$` with `(?m)`: at the end of the text or before `\n`.
    static let endLine = RE2Assertion(rawValue: 1 << 1)
    /// `\A`, and `^` without `(?m)`.
    static let beginText = RE2Assertion(rawValue: 1 << 2)
    /// `\z`, and `$` without `(?m)` (unlike PCRE, never before a final `\n`).
    static let endText = RE2Assertion(rawValue: 1 << 3)
    /// `\b`: between an ASCII word character and a non-word character (or an edge of the text).
    static let wordBoundary = RE2Assertion(rawValue: 1 << 4)
    /// `\B`.
    static let notWordBoundary = RE2Assertion(rawValue: 1 << 5)
}

/// Why RE2 (Go's `regexp/syntax` with its Perl flags) refuses a pattern; the messages follow Go's.
public struct RE2SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidEscape = "invalid escape sequence"
        case invalidCharacterClass = "invalid character class"
        case invalidCharacterRange = "invalid character class range"
        case missingBracket = "missing closing ]"
        case missingParen = "missing closing )"
        case unexpectedParen = "unexpected )"
        case invalidRepeatOperator = "invalid nested repetition operator"
        case missingRepeatArgument = "missing argument to repetition operator"
        case invalidRepeatSize = "invalid repeat count"
        case invalidNamedCapture = "invalid named capture"
        case duplicateNamedCapture = "duplicate capture group name"
        case invalidPerlOperator = "invalid or unsupported Perl syntax"
        case trailingBackslash = "trailing backslash at end of expression"
        case nestingDepth = "expression nests too deeply"
        case tooLarge = "expression too large"
    }

    public let code: Code
    /// The part of the pattern at fault.
    public let fragment: String

    public var description: String { "error parsing regexp: \(code.rawValue): `\(fragment)`" }
}
