@testable import ModelsCore
import Testing

/// Each clause operator against context values, through the evaluator (a one-rule flag serving
/// variation 1 on match, 0 otherwise).
@Suite("Clause operators")
struct OperatorTests {
    private func matches(_ op: String, _ contextValue: String, _ clauseValues: String, negate: Bool = false) -> Bool {
        let flag = #"""
            {"key":"f","on":true,"variations":[false,true],"fallthrough":{"variation":0},
             "rules":[{"id":"r","variation":1,"clauses":[{"attribute":"a","op":"\#(op)","values":\#(clauseValues),"negate":\#(negate)}]}]}
            """#
        let data = evaluationData(flags: [flag])
        let detail = data.evaluate(flagKey: "f", context: context(#"{"kind":"user","key":"k","a":\#(contextValue)}"#))
        return detail.variationIndex == 1
    }

    @Test("in: same type and equal; numbers numerically; never bool versus number")
    func inOperator() {
        #expect(matches("in", #""x""#, #"["y","x"]"#))
        #expect(!matches("in", #""X""#, #"["x"]"#))
        #expect(matches("in", "1", "[1.0]"))
        #expect(!matches("in", "true", "[1]"))
        #expect(!matches("in", "1", "[true]"))
        #expect(!matches("in", "0", "[false]"))
        #expect(matches("in", "false", "[false]"))
        #expect(!matches("in", #"{"b":1}"#, #"[{"b":1}]"#), "objects never match in Go, even identical ones")
        #expect(!matches("in", #""1""#, "[1]"))
        #expect(matches("in", #"["p","x"]"#, #"["x"]"#), "an array attribute matches if any element does")
        #expect(!matches("in", #"[["x"]]"#, #"[["x"]]"#), "array elements are not recursed; arrays never match")
        #expect(!matches("in", #"[["x"]]"#, #"["x"]"#))
        #expect(!matches("in", #""x""#, "[null]"))
    }

    @Test("string operators need strings on both sides and are case-sensitive")
    func stringOperators() {
        #expect(matches("startsWith", #""football""#, #"["foo"]"#))
        #expect(!matches("startsWith", #""football""#, #"["Foo"]"#))
        #expect(matches("endsWith", #""football""#, #"["ball"]"#))
        #expect(matches("contains", #""football""#, #"["otba"]"#))
        #expect(matches("contains", #""x""#, #"[""]"#))
        #expect(!matches("startsWith", "99", #"["99"]"#))
        #expect(!matches("contains", "true", #"["true"]"#))
        #expect(!matches("endsWith", #""x""#, "[1]"))
        #expect(!matches("startsWith", "\"e\\u0301\"", "[\"\\u00e9\"]"), "no Unicode normalization")
    }

    @Test("matches: unanchored search; invalid or non-RE2 patterns never match")
    func regexOperator() {
        #expect(matches("matches", #""hello world""#, #"["o w"]"#))
        #expect(matches("matches", #""hello world""#, #"["^h.*d$"]"#))
        #expect(matches("matches", #""abc123""#, #"["[0-9]+"]"#))
        #expect(!matches("matches", #""abc""#, #"["^b"]"#))
        #expect(!matches("matches", #""abc""#, #"["("]"#))
        #expect(!matches("matches", #""aa""#, #"["(a)\\1"]"#), "backreferences are not RE2")
        #expect(!matches("matches", #""ab""#, #"["a(?=b)"]"#), "lookahead is not RE2")
        #expect(matches("matches", #""x-1""#, #"["(?i)X-\\d"]"#))
        #expect(!matches("matches", "5", #"["5"]"#))
    }

    @Test("numeric operators need numbers on both sides")
    func numericOperators() {
        #expect(matches("lessThan", "1", "[2]"))
        #expect(!matches("lessThan", "2", "[2]"))
        #expect(matches("lessThanOrEqual", "2", "[2.0]"))
        #expect(matches("greaterThan", "2.5", "[2]"))
        #expect(!matches("greaterThan", "2", "[2]"))
        #expect(matches("greaterThanOrEqual", "-1", "[-1]"))
        #expect(!matches("lessThan", #""1""#, "[2]"))
        #expect(!matches("lessThan", "1", #"["2"]"#))
        #expect(!matches("lessThan", "false", "[1]"))
        #expect(matches("lessThan", "5", "[1, 10]"), "any clause value may match")
    }

    @Test("dates: RFC 3339 strings and epoch milliseconds; equal instants match neither")
    func dateOperators() {
        #expect(matches("before", "1512543599999", #"["2017-12-06T07:00:00Z"]"#))
        #expect(!matches("before", "1512543600000", #"["2017-12-06T07:00:00Z"]"#))
        #expect(!matches("after", "1512543600000", #"["2017-12-06T00:00:00-07:00"]"#))
        #expect(matches("after", #""2017-12-06T07:00:00.001Z""#, "[1512543600000]"))
        #expect(matches("before", #""2017-12-06T06:59:59.999999999Z""#, #"["2017-12-06T07:00:00Z"]"#))
        #expect(!matches("before", #""1512543599999""#, "[1512543600000]"), "digit strings are not dates")
        #expect(!matches("before", #""2017-12-06""#, "[1512543600000]"))
        #expect(!matches("before", #""2020-01-01T00:00:00""#, "[9999999999999]"), "a zone is required")
        #expect(!matches("before", "true", "[1512543600000]"))
        #expect(matches("before", "1512543599999.9", "[1512543600000]"), "fractions of milliseconds are truncated")
        #expect(!matches("after", "1512543600000.9", "[1512543600000]"))
        #expect(matches("after", #""2017-12-06t07:00:01z""#, "[1512543600000]"))
        #expect(matches("before", #""2017-02-31T00:00:00Z""#, #"["2017-03-03T00:00:01Z"]"#), "days roll over as in Go")
        #expect(!matches("after", #""2017-12-06T07:00:00Z""#, #"["0001-01-01T00:00:00Z"]"#), "Go's zero time is no clause value")
        #expect(matches("after", #""2017-12-06T07:00:00Z""#, #"["0001-01-01T00:00:01Z"]"#))
    }

    @Test("RFC 3339 parsing follows LaunchDarkly's Go parser", arguments: [
        ("2017-12-06T00:00:00.000-07:00", true), ("2017-12-06T07:00:00Z", true), ("2017-12-06T7:00:00Z", true),
        ("2017-12-06T07:00:60Z", true), ("2017-12-06T07:00:00+99:59", true), ("2017-12-06T07:00:00Zjunk", true),
        ("2017-12-06", false), ("00:00:00.000-07:00", false), ("2017-12-06X00:00:00.000-07:00", false),
        ("2020-01-01T00:00:00", false), ("", false), ("1512543600000", false), ("2017-12-06T07:00:00.Z", false),
        ("2017-12-06T07:00:00.1234567890Z", false), ("2017-13-06T07:00:00Z", false), ("17-12-06T07:00:00Z", false),
        ("2017-12-06T07:00:00+07:00x", false), ("2017-12-06T24:00:00Z", false),
    ])
    func rfc3339(text: String, valid: Bool) {
        #expect((Instant(rfc3339: text) != nil) == valid)
    }

    @Test("semantic versions: lenient minor and patch, SemVer precedence, build ignored")
    func semverOperators() {
        #expect(matches("semVerEqual", #""2.0.0""#, #"["2"]"#))
        #expect(matches("semVerEqual", #""2.0.0-rc""#, #"["2-rc"]"#))
        #expect(matches("semVerEqual", #""2.0.0+build""#, #"["2.0.0"]"#))
        #expect(matches("semVerLessThan", #""2.0.0-rc""#, #"["2.0.0"]"#))
        #expect(matches("semVerLessThan", #""2.0.0-rc""#, #"["2.0.0-rc.1"]"#))
        #expect(matches("semVerLessThan", #""2.0.0-rc.2.green""#, #"["2.0.0-rc.10.green"]"#))
        #expect(matches("semVerLessThan", #""2.0.0-rc.2.green""#, #"["2.0.0-rc.2.red"]"#))
        #expect(matches("semVerLessThan", #""2.0.0-1""#, #"["2.0.0-alpha"]"#), "numeric identifiers sort first")
        #expect(matches("semVerGreaterThan", #""10.0.0""#, #"["9.99.99"]"#))
        #expect(!matches("semVerEqual", #""02.0.0""#, #"["2.0.0"]"#))
        #expect(!matches("semVerEqual", #""v2.0.0""#, #"["2.0.0"]"#))
        #expect(!matches("semVerEqual", #""2.0.0.0""#, #"["2.0.0"]"#))
        #expect(!matches("semVerEqual", "2", #"["2.0.0"]"#))
    }

    @Test("semantic version grammar", arguments: [
        ("1.2.3", true), ("1.2", true), ("1", true), ("1-rc", true), ("1.2-rc.1+b.01", true), ("0.0.0", true),
        ("1.2.3----", true), ("1.2.3-0", true), ("1.2.3-0a", true),
        ("1.2.3-01", false), ("1.2.3-", false), ("1.2.3+", false), ("1..3", false), ("1.2.", false), (".1.2", false),
        ("1.2.3-a..b", false), ("1.2.3+a!", false), ("01.2.3", false), ("1.2.3 ", false), ("1.2.3é", false),
    ])
    func semverGrammar(text: String, valid: Bool) {
        #expect((SemanticVersion(text) != nil) == valid)
    }

    @Test("unknown operators never match, but negate still inverts them")
    func unknownOperator() {
        #expect(!matches("isOneOf", #""x""#, #"["x"]"#))
        #expect(matches("isOneOf", #""x""#, #"["x"]"#, negate: true))
    }

    @Test("negate inverts a present attribute's result")
    func negation() {
        #expect(matches("in", #""x""#, #"["y"]"#, negate: true))
        #expect(!matches("in", #""x""#, #"["x"]"#, negate: true))
    }
}
