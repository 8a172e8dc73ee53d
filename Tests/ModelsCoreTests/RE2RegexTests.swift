@testable import ModelsCore
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One `matches` case: Go's `regexp.MustCompile(pattern).MatchString(text)`, or nil when
/// `regexp.Compile(pattern)` returns an error (then LaunchDarkly's evaluator never matches).
private struct GoCase: CustomStringConvertible, Sendable {
    let pattern: String
    let text: String
    let go: Bool?
    let why: String

    init(_ pattern: String, _ text: String, _ go: Bool?, _ why: String) {
        self.pattern = pattern
        self.text = text
        self.go = go
        self.why = why
    }

    var description: String { "\(pattern) on \(text.debugDescription): \(why)" }
}

/// Expected results derived from Go's `regexp` and `regexp/syntax` (parser.go, perl_groups.go, the
/// `unicode` tables and the package documentation), not from PCRE, ICU or Python's `re`, which
/// disagree on most of these.
private let goCases: [GoCase] = [
    // ASCII-only Perl classes.
    GoCase(#"^\d+$"#, "٣٤", false, "\\d is [0-9]; Arabic-Indic digits are not"),
    GoCase(#"^\d+$"#, "34", true, "ASCII digits"),
    GoCase(#"\d"#, "１", false, "fullwidth digit one is not \\d"),
    GoCase(#"\D"#, "٣", true, "\\D is the complement of [0-9]"),
    GoCase(#"^\w+$"#, "é", false, "\\w is [0-9A-Za-z_]"),
    GoCase(#"^\w+$"#, "abc_123", true, "ASCII word characters"),
    GoCase(#"\w"#, "ж", false, "Cyrillic is not \\w"),
    GoCase(#"\s"#, "\u{00A0}", false, "no-break space is not \\s"),
    GoCase(#"\s"#, "\u{000B}", false, "\\s is [\\t\\n\\f\\r ]: not vertical tab"),
    GoCase(#"\S"#, "\u{00A0}", true, "no-break space is \\S"),
    GoCase(#"[\d\-]+"#, "1-2", true, "Perl classes inside brackets"),
    // Word boundaries are ASCII too.
    GoCase(#"\bfoo\b"#, "a foo b", true, "boundaries at spaces"),
    GoCase(#"\bfoo\b"#, "afoo", false, "no boundary between a and f"),
    GoCase(#"\bfoo\b"#, "éfooé", true, "é is not a word character, so there are boundaries"),
    GoCase(#"\bé"#, "é", false, "no boundary before é: neither side is a word character"),
    GoCase(#"\Bé"#, "é", true, "\\B holds before é"),
    GoCase(#"\b"#, "", false, "no boundary in the empty text"),
    GoCase(#"\bx\b"#, "«x»", true, "guillemets are not word characters (Go's re2-search.txt)"),
    GoCase(#"\Bx\B"#, "áxβ", false, "nor are á and β (Go's re2-search.txt)"),
    GoCase(#"\B"#, "", true, "\\B holds in the empty text"),
    // POSIX classes: ASCII, inside brackets only.
    GoCase(#"[[:alpha:]]"#, "é", false, "[:alpha:] is [A-Za-z]"),
    GoCase(#"^[[:alpha:]]+$"#, "abcXYZ", true, "ASCII letters"),
    GoCase(#"[[:^alpha:]]"#, "é", true, "negated POSIX class"),
    GoCase(#"[[:digit:]]"#, "٣", false, "[:digit:] is [0-9]"),
    GoCase(#"[[:upper:]]"#, "É", false, "[:upper:] is [A-Z]"),
    GoCase(#"[[:space:]]"#, "\u{000B}", true, "[:space:] includes vertical tab, unlike \\s"),
    GoCase(#"[[:word:]]"#, "_", true, "[:word:] is [0-9A-Za-z_]"),
    GoCase(#"[[:punct:]]"#, "¿", false, "[:punct:] is ASCII punctuation"),
    GoCase(#"[:alpha:]"#, "h", true, "without outer brackets this is the set {:, a, l, p, h}"),
    GoCase(#"[[:foo:]]"#, "f", nil, "unknown POSIX class"),
    // Unicode classes are Unicode.
    GoCase(#"\pL"#, "é", true, "é is a letter"),
    GoCase(#"\p{Greek}"#, "α", true, "Greek script"),
    GoCase(#"\p{Greek}"#, "a", false, "Latin is not Greek"),
    GoCase(#"\P{Greek}"#, "a", true, "negated script"),
    GoCase(#"\p{^Greek}"#, "α", false, "\\p{^X} is \\P{X}"),
    GoCase(#"\p{Han}"#, "中", true, "Han script"),
    GoCase(#"\pN"#, "٣", true, "Arabic-Indic digit is a number"),
    GoCase(#"\p{Nd}"#, "٣", true, "and a decimal digit"),
    GoCase(#"\p{Lu}"#, "a", false, "a is not upper case"),
    GoCase(#"(?i)\p{Lu}"#, "a", true, "(?i) folds Unicode classes too"),
    GoCase(#"\pZ"#, "\u{00A0}", true, "no-break space is a space separator"),
    GoCase(#"\p{Any}"#, "\n", true, "Any is every code point"),
    GoCase(#"\p{Klingon}"#, "a", nil, "unknown Unicode class"),
    GoCase(#"\p"#, "p", nil, "\\p needs a name"),
    GoCase(#"\p{greek}"#, "α", true, "Go 1.25+: class names are matched loosely"),
    GoCase(#"\p{Letter}"#, "é", true, "Go 1.25+: category aliases"),
    // Case folding: Unicode simple folding, nothing more.
    GoCase(#"(?i)k"#, "\u{212A}", true, "KELVIN SIGN folds to k"),
    GoCase(#"k"#, "\u{212A}", false, "only under (?i)"),
    GoCase(#"(?i)\x{212A}"#, "K", true, "folding is symmetric"),
    GoCase(#"(?i)s"#, "ſ", true, "LATIN SMALL LETTER LONG S folds to s"),
    GoCase(#"(?i)ß"#, "ẞ", true, "capital sharp s simple-folds to ß"),
    GoCase(#"(?i)ss"#, "ß", false, "no full case folding (ß is not ss)"),
    GoCase(#"(?i)straße"#, "STRASSE", false, "no full case folding"),
    GoCase(#"(?i)σ"#, "ς", true, "Σ, σ and ς form one orbit"),
    GoCase(#"(?i)i"#, "İ", false, "dotted capital I has no simple folding"),
    GoCase(#"(?i)ı"#, "I", false, "dotless i has no simple folding"),
    GoCase(#"(?i)é"#, "É", true, "Latin-1 letters fold"),
    GoCase(#"(?i)[a-z]+"#, "ABC", true, "ranges fold"),
    GoCase(#"(?i)[k]"#, "\u{212A}", true, "class members fold"),
    GoCase(#"(?i)[^k]"#, "\u{212A}", false, "folding happens before negation"),
    GoCase(#"(?i)\w"#, "\u{212A}", true, "Perl classes fold under (?i)"),
    GoCase(#"(?i)\W"#, "ſ", false, "so (?i)\\W excludes ſ and KELVIN SIGN"),
    GoCase(#"\w"#, "\u{212A}", false, "but \\w alone is ASCII"),
    GoCase(#"(?i)[[:upper:]]"#, "a", true, "POSIX classes fold under (?i)"),
    // Flag scope.
    GoCase(#"(?i:A)b"#, "aB", false, "(?i:…) covers only its group"),
    GoCase(#"(?i:A)b"#, "ab", true, "(?i:…) covers its group"),
    GoCase(#"a(?i)b"#, "aB", true, "(?i) covers the rest of the group"),
    GoCase(#"(a(?i)b)c"#, "aBC", false, "a flag ends with its group"),
    GoCase(#"(a(?i)b)c"#, "aBc", true, "a flag ends with its group"),
    GoCase(#"(?i-i)a"#, "A", false, "flags can be cleared"),
    GoCase(#"(?U)a+"#, "aaa", true, "ungreedy flag"),
    GoCase(#"(?z)a"#, "a", nil, "unknown flag"),
    GoCase(#"(?i-)a"#, "a", nil, "a dash needs a flag after it"),
    // Anchors and multi-line mode.
    GoCase(#"^b"#, "a\nb", false, "^ is the start of the text"),
    GoCase(#"(?m)^b"#, "a\nb", true, "(?m)^ is the start of a line"),
    GoCase(#"a$"#, "a\n", false, "$ is the end of the text, never before a final \\n (unlike PCRE)"),
    GoCase(#"(?m)a$"#, "a\n", true, "(?m)$ is the end of a line"),
    GoCase(#"a\z"#, "a\n", false, "\\z is the end of the text"),
    GoCase(#"a\z"#, "a", true, "\\z at the end"),
    GoCase(#"\Aa"#, "ba", false, "\\A is the start of the text"),
    GoCase(#"(?m)\Ab"#, "a\nb", false, "\\A ignores (?m)"),
    GoCase(#"a\Z"#, "a", nil, "\\Z is not RE2"),
    GoCase(#"^$"#, "", true, "empty text"),
    GoCase(#"^$"#, "\n", false, "not an empty text"),
    GoCase(#"(?m)^$"#, "\n", true, "an empty first line"),
    GoCase(#"(?m)^$"#, "a\n", true, "an empty last line after the final \\n"),
    GoCase(#"(?m)^\d+$"#, "abc\n123", true, "a digits-only line"),
    GoCase(#"a^b"#, "ab", false, "^ in the middle never holds"),
    GoCase(#"^$^$"#, "x\ny", false, "without (?m) ^ and $ ignore newlines (Go's re2-search.txt)"),
    GoCase(#"$^$"#, "", true, "assertions can repeat at one position"),
    // Dot.
    GoCase(#"a.b"#, "a\nb", false, ". does not match \\n"),
    GoCase(#"(?s)a.b"#, "a\nb", true, "(?s). does"),
    GoCase(#"a[^x]b"#, "a\nb", true, "a negated class does match \\n"),
    GoCase(#"^.$"#, "😀", true, ". is one code point"),
    GoCase(#"^..$"#, "e\u{301}", true, "a combining sequence is two code points"),
    GoCase(#"^.$"#, "\u{E9}", true, "precomposed é is one"),
    GoCase(#"\x{FFFD}"#, "\u{FFFD}", true, "the replacement character is an ordinary code point"),
    // Syntax RE2 refuses: such a clause never matches.
    GoCase(#"(a)\1"#, "aa", nil, "backreference"),
    GoCase(#"a(?=b)"#, "ab", nil, "lookahead"),
    GoCase(#"a(?!b)"#, "ac", nil, "negative lookahead"),
    GoCase(#"(?<=a)b"#, "ab", nil, "lookbehind"),
    GoCase(#"(?<!a)b"#, "cb", nil, "negative lookbehind"),
    GoCase(#"a*+"#, "aaa", nil, "possessive quantifier (a repetition of a repetition)"),
    GoCase(#"(?>a)"#, "a", nil, "atomic group"),
    GoCase(#"a**"#, "a", nil, "stacked repetition"),
    GoCase(#"a{2}{3}"#, "aaaaaa", nil, "stacked counted repetition"),
    GoCase(#"*a"#, "a", nil, "repetition of nothing"),
    GoCase(#"(?P=n)"#, "a", nil, "named backreference"),
    GoCase(#"\C"#, "a", nil, "any byte"),
    GoCase(#"\8"#, "8", nil, "not an escape"),
    GoCase(#"\q"#, "q", nil, "letters cannot be escaped at will"),
    GoCase(#"[\b]"#, "\u{8}", nil, "no backspace escape in classes"),
    GoCase(#"[z-a]"#, "a", nil, "reversed range"),
    GoCase(#"[a-\d]"#, "a", nil, "a class cannot end a range"),
    GoCase(#"(ab"#, "ab", nil, "missing )"),
    GoCase(#"ab)"#, "ab", nil, "unexpected )"),
    GoCase(#"[ab"#, "a", nil, "missing ]"),
    GoCase(#"ab\"#, "ab", nil, "trailing backslash"),
    GoCase(#"(?P<n>a)(?P<n>b)"#, "ab", nil, "duplicate group name"),
    // Repetition counts: at most 1000, also as a product of nested counts.
    GoCase(#"a{1001}"#, "a", nil, "count above 1000"),
    GoCase(#"^a{2,1000}$"#, "aa", true, "count of 1000 is allowed"),
    GoCase(#"a{2,1}"#, "aa", nil, "min above max"),
    GoCase(#"(a{2}){501}"#, "a", nil, "nested counts multiply to more than 1000"),
    GoCase(#"^(a{2}){500}$"#, String(repeating: "a", count: 1000), true, "nested counts multiply to 1000"),
    GoCase(#"a{,3}"#, "a{,3}", true, "not a count: literal text"),
    GoCase(#"a{01}"#, "a{01}", true, "a leading zero makes it literal text"),
    GoCase(#"x{"#, "x{", true, "a lone { is literal"),
    GoCase(#"^a{2,}$"#, "aaaa", true, "open count"),
    // Escapes and groups RE2 accepts.
    GoCase(#"\101\x41\x{41}"#, "AAA", true, "octal and hexadecimal escapes"),
    GoCase(#"\0"#, "\u{0}", true, "NUL"),
    GoCase(#"\x{1F600}"#, "😀", true, "astral code point"),
    GoCase(#"\x{110000}"#, "a", nil, "beyond Unicode"),
    GoCase(#"\Qa.b\E"#, "axb", false, "\\Q…\\E quotes"),
    GoCase(#"\Qa.b"#, "a.b", true, "\\Q runs to the end"),
    GoCase(#"\_\-\ "#, "_- ", true, "escaped punctuation"),
    GoCase(#"(?P<name>a)"#, "a", true, "Python-style named group"),
    GoCase(#"(?<name>a)"#, "a", true, "named group (Go 1.22+)"),
    GoCase(#"[]a]"#, "]", true, "] first in a class is a member"),
    GoCase(#"[^]a]"#, "]", false, "also after ^"),
    GoCase(#"[a-]"#, "-", true, "a final - is a member"),
    // Alternation, empty matches, and no catastrophic backtracking.
    GoCase(#"a|"#, "b", true, "an empty alternative matches"),
    GoCase(#"(|a)+"#, "", true, "repetition of something that can be empty"),
    GoCase(#"(a*)*$"#, "b", true, "nested stars"),
    GoCase(#"(a+)+b"#, String(repeating: "a", count: 40) + "c", false, "linear time, whatever the pattern"),
    GoCase(#""#, "anything", true, "the empty pattern matches everything"),
    GoCase(#"o w"#, "hello world", true, "unanchored search"),
]

@Suite("matches: RE2 semantics (expected results from Go's regexp)")
struct RE2RegexTests {
    @Test("Go's results for a table of tricky patterns")
    func goTable() {
        #expect(goCases.count >= 60)
        for c in goCases {
            let regex = RegularExpression(c.pattern)
            switch c.go {
            case nil:
                #expect(regex == nil, "Go refuses: \(c)")
            case let expected?:
                #expect(regex != nil, "Go compiles: \(c) — \(RegularExpression.syntaxError(c.pattern) ?? "")")
                if let regex { #expect(regex.matches(c.text) == expected, "\(c)") }
            }
        }
    }

    @Test("through the evaluator: ASCII classes, folding, and refused patterns that never match")
    func evaluatorUsesRE2() {
        func matches(_ pattern: String, _ value: String, negate: Bool = false) -> Bool {
            func quoted(_ text: String) -> String {
                "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n") + "\""
            }
            let flag = """
                {"key":"f","on":true,"variations":[false,true],"fallthrough":{"variation":0},
                 "rules":[{"id":"r","variation":1,"clauses":[{"attribute":"a","op":"matches",
                 "values":[\(quoted(pattern))],"negate":\(negate)}]}]}
                """
            let data = evaluationData(flags: [flag])
            let detail = data.evaluate(flagKey: "f", context: context(#"{"kind":"user","key":"k","a":\#(quoted(value))}"#))
            return detail.variationIndex == 1
        }
        #expect(!matches(#"^\d+$"#, "٣٤"))
        #expect(matches(#"^\d+$"#, "34"))
        #expect(matches(#"(?i)k"#, "\u{212A}"))
        #expect(!matches(#"(a)\1"#, "aa"))
        #expect(matches(#"(a)\1"#, "aa", negate: true), "the refused value never matches, so negated it does (as in Go)")
    }

    @Test("refusals carry Go-style messages")
    func messages() {
        #expect(RegularExpression.syntaxError(#"a**"#)?.contains("invalid nested repetition operator") == true)
        #expect(RegularExpression.syntaxError(#"(a)\1"#)?.contains("invalid escape sequence") == true)
        #expect(RegularExpression.syntaxError(#"a{1001}"#)?.contains("invalid repeat count") == true)
        #expect(RegularExpression.syntaxError(#"[[:foo:]]"#)?.contains("invalid character class range") == true)
        #expect(RegularExpression.syntaxError(#"(a"#)?.contains("missing closing )") == true)
        #expect(RegularExpression.syntaxError(#"^\d+$"#) == nil)
    }

    @Test("limits: nesting depth and program size are bounded and documented")
    func limits() {
        let nested250 = String(repeating: "(", count: 250) + "a" + String(repeating: ")", count: 250)
        let nested251 = String(repeating: "(", count: 251) + "a" + String(repeating: ")", count: 251)
        #expect(RegularExpression(nested250)?.matches("a") == true)
        #expect(RegularExpression.syntaxError(nested251)?.contains("nests too deeply") == true)
        // 21 literals × 1000 = 21 000 instructions: within Go's limits, above Vane's 20 000.
        #expect(RegularExpression.syntaxError("(abcdefghijklmnopqrstu){1000}")?.contains("too large") == true)
        #expect(RegularExpression("(abcdefghijklmnopqrst){999}") != nil)
        // Go's own "too long" and "too many runes" cases are refused quickly and in little memory.
        #expect(RegularExpression("(" + String(repeating: "(xx?)", count: 1000) + "){1000}") == nil)
        #expect(RegularExpression(String(repeating: "(xx?){1000}", count: 1000)) == nil)
        #expect(RegularExpression(String(repeating: #"\PL"#, count: 3100)) == nil, "more than 2 000 000 class ranges")
        #expect(RegularExpression(String(repeating: #"\PL"#, count: 3000)) != nil)
        #expect(RegularExpression("[" + String(repeating: #"\pL"#, count: 2000) + "]")?.matches("é") == true)
        #expect(RegularExpression(#"^\pL{1000}$"#)?.matches(String(repeating: "é", count: 1000)) == true)
        #expect(RegularExpression(String(repeating: "a", count: 65_537)) == nil, "patterns are at most 64 KiB")
        #expect(RegularExpression(#"((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}){2})"#) == nil, "2^10 > 1000")
        #expect(RegularExpression(#"\Q\E*"#) == nil, "nothing to repeat")
        #expect(RegularExpression(#"a\Q\E*"#)?.matches("b") == true, "the star repeats the a")
    }

    @Test("the matcher's assertion bits are RE2Assertion's")
    func assertionBits() {
        // RE2Program.Machine spells these out as literals for speed.
        #expect(RE2Assertion.beginLine.rawValue == 1)
        #expect(RE2Assertion.endLine.rawValue == 2)
        #expect(RE2Assertion.beginText.rawValue == 4)
        #expect(RE2Assertion.endText.rawValue == 8)
        #expect(RE2Assertion.wordBoundary.rawValue == 16)
        #expect(RE2Assertion.notWordBoundary.rawValue == 32)
    }

    @Test("Unicode data: categories, scripts and folding orbits decode as expected")
    func unicodeData() {
        #expect(RE2Unicode.table(named: "Lu")?.characterClass.contains(0x41) == true)
        #expect(RE2Unicode.table(named: "Old_Italic")?.characterClass.contains(0x10300) == true)
        #expect(RE2Unicode.table(named: "Cn")?.characterClass.contains(0x378) == true)
        #expect(RE2Unicode.table(named: "Assigned")?.inverted == true)
        #expect(Set(RE2Unicode.orbit(of: 0x6B)) == [0x4B, 0x6B, 0x212A])
        #expect(Set(RE2Unicode.orbit(of: 0x3C3)) == [0x3A3, 0x3C2, 0x3C3])
        #expect(RE2Unicode.orbit(of: 0x130) == [0x130])
        #expect(RE2Unicode.foldableRunes.count == 2878)
        // Go's regexp/syntax constants minFold and maxFold: the same folding data.
        #expect(RE2Unicode.foldableRunes.first == 0x41)
        #expect(RE2Unicode.foldableRunes.last == 0x1E943)
    }

    @Test("matching time is linear in the text: no catastrophic backtracking")
    func linearTime() {
        let text = String(repeating: "a", count: 20_000) + "!"
        let clock = ContinuousClock()
        var results: [Bool] = []
        let elapsed = clock.measure {
            for pattern in [#"(a+)+b"#, #"(a|aa)*c"#, #"(x+x+)+y"#, #"^(a|a?)+$"#, #"(.*a){20}b"#] {
                results.append(RegularExpression(pattern)?.matches(text) ?? true)
            }
        }
        #expect(results == [false, false, false, false, false])
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test("compiled programs are shared per pattern, and matching is safe from many tasks")
    func concurrentMatching() async {
        let texts = ["٣٤", "34", "a\nb", "\u{212A}"]
        await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let regex = RegularExpression(#"^\d+$|(?m)^b|(?i)k"#)
                    let text = texts[i % texts.count]
                    return regex?.matches(text) == (text != "٣٤")
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
