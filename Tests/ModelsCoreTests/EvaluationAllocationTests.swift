import CMallocCounter
@testable import ModelsCore
import Testing

/// Evaluation must not touch the heap: at the seeds' 1.16 million evaluations a second an
/// allocation per evaluation is a million mallocs a second. Each path is evaluated a few times to
/// warm up (lazy runtime metadata, one-time CPU detection), then counted over a loop; the counter is
/// the calling thread's (see `Tests/CMallocCounter`), so tests running in parallel do not interfere.
@Suite(
    "Evaluation allocations",
    .enabled(
        if: ModelsCoreBuild.isOptimized,
        "unoptimized Swift allocates where the optimizer removes it: build with VANE_BENCHMARKS=1, as make test does"))
struct EvaluationAllocationTests {
    private static let loops = 2_000

    /// Heap allocations per evaluation of `body`, after warming up; nil where they cannot be counted.
    private func allocationsPerEvaluation(_ body: () -> EvaluationDetail) -> Double? {
        for _ in 0..<10 { _ = body() }
        let before = vane_test_thread_malloc_count()
        guard before >= 0 else { return nil }
        var served = 0
        for _ in 0..<Self.loops where body().variationIndex != nil { served += 1 }
        let after = vane_test_thread_malloc_count()
        #expect(served >= 0)
        return Double(after - before) / Double(Self.loops)
    }

    @Test("the counter sees an allocation, so a zero below means something")
    func counterCounts() throws {
        let before = vane_test_thread_malloc_count()
        try #require(before >= 0, "allocations are only counted with glibc")
        let array = Array(repeating: UInt8(7), count: Int(before % 3) + 1_000)
        let after = vane_test_thread_malloc_count()
        #expect(array.count >= 1_000)
        #expect(after - before >= 1)
    }

    @Test("the benchmark cases (a) to (d) allocate nothing, by flag and by key")
    func benchmarkCases() throws {
        let cases = try BenchmarkCases.load()
        for benchmarkCase in cases.cases {
            let flag = try #require(cases.data.flag(benchmarkCase.flag))
            let byFlag = try #require(allocationsPerEvaluation { cases.data.evaluate(flag, context: cases.context) })
            let byKey = try #require(allocationsPerEvaluation { cases.data.evaluate(flagKey: benchmarkCase.flag, context: cases.context) })
            #expect(byFlag == 0, "\(benchmarkCase.name), by flag")
            #expect(byKey == 0, "\(benchmarkCase.name), by key")
        }
    }

    @Test("the other evaluation paths allocate nothing", arguments: [
        // Individual targeting.
        ("target", #"""
            {"key":"f","on":true,"variations":[1,2],"targets":[{"values":["u1"],"variation":1}],
            "fallthrough":{"variation":0}}
            """#),
        ("rollout bucketed by a string attribute, with a seed",
         #"""
            {"key":"f","on":true,"variations":[1,2],"salt":"s","fallthrough":{"rollout":{"bucketBy":"email",
            "seed":61,"variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}
            """#),
        ("rollout bucketed by an integer attribute",
         #"""
            {"key":"f","on":true,"variations":[1,2],"salt":"s","fallthrough":{"rollout":{"bucketBy":"age",
            "variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}
            """#),
        ("experiment rollout on the org context",
         #"""
            {"key":"f","on":true,"variations":[1,2],"salt":"s","fallthrough":{"rollout":{"kind":"experiment",
            "contextKind":"org","variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}
            """#),
        ("string, number, date and semver operators, negated clause, kind clause",
         #"""
            {"key":"f","on":true,"variations":[1,2],"fallthrough":{"variation":0},"rules":[{"id":"r",
            "variation":1,"clauses":[{"attribute":"email","op":"startsWith",
            "values":["ann"]},{"attribute":"email","op":"contains","values":["@"]},{"attribute":"age",
            "op":"lessThan","values":[99]},{"attribute":"created","op":"before",
            "values":["2030-01-01T00:00:00Z"]},{"attribute":"version","op":"semVerGreaterThan",
            "values":["1.0.0"]},{"attribute":"country","op":"in","values":["fr"],
            "negate":true},{"attribute":"kind","op":"in","values":["org"]},{"attribute":"tags","op":"in",
            "values":["beta"]},{"attribute":"/address/city","op":"in","values":["Utrecht"]}]}]}
            """#),
        ("segment with included keys, weighted rule and a nested segment",
         #"""
            {"key":"f","on":true,"variations":[1,2],"fallthrough":{"variation":0},"rules":[{"id":"r",
            "variation":1,"clauses":[{"attribute":"","op":"segmentMatch","values":["s-missing","s1"]}]}]}
            """#),
        ("prerequisite failing, then off",
         #"""
            {"key":"f","on":true,"variations":[1,2],"offVariation":0,"fallthrough":{"variation":1},
            "prerequisites":[{"key":"p-off","variation":1}]}
            """#),
        // Not here: the MALFORMED_FLAG paths that abort by throwing (a prerequisite cycle...). They do
        // not allocate in a plain process, but Swift Testing hooks `swift_willThrow` to record a
        // backtrace for every thrown error, which allocates in this one.
    ])
    func otherPaths(name: String, flagJSON: String) throws {
        let data = evaluationData(
            flags: [
                flagJSON,
                #"{"key":"p-off","on":false,"variations":[1,2],"offVariation":0}"#,
            ],
            segments: [
                #"""
            {"key":"s1","salt":"x","included":["nobody"],"excluded":["u2"],"rules":[{"clauses":[{"attribute":"",
            "op":"segmentMatch","values":["s2"]}],"weight":100000,"bucketBy":"email"}]}
            """#,
                #"{"key":"s2","salt":"y","includedContexts":[{"contextKind":"org","values":["o1"]}],"rules":[]}"#,
            ])
        let multi = context(#"""
            {"kind":"multi","user":{"key":"u1","email":"ann@example.com","age":33,"country":"nl","created":"2020-01-01T00:00:00Z",
             "version":"2.1.0","tags":["beta"],"address":{"city":"Utrecht"}},"org":{"key":"o1","name":"Org"}}
            """#)
        let user = context(#"{"key":"u1","email":"ann@example.com","age":33}"#)
        let flag = try #require(data.flag("f"))
        for (contextName, evaluationContext) in [("multi-kind", multi), ("user", user)] {
            if let allocations = allocationsPerEvaluation({ data.evaluate(flag, context: evaluationContext) }) {
                #expect(allocations == 0, "\(name), \(contextName) context")
            }
        }
    }
}

/// `Benchmarks/evaluation-cases.json`, the cases the evaluation benchmark times.
struct BenchmarkCases {
    let data: EvaluationData
    let context: EvaluationContext
    let cases: [(name: String, flag: String)]

    static func load() throws -> BenchmarkCases {
        let file = #filePath
        let root = file[..<file.range(of: "/Tests/ModelsCoreTests/")!.lowerBound]
        let bytes = try #require(readFile(root + "/Benchmarks/evaluation-cases.json"))
        let document = try JSONParser.parse(bytes)
        let data = EvaluationData(try PollingPayload(json: try #require(document["data"])))
        let context = try EvaluationContext(json: try #require(document["context"]))
        let cases = try #require(document["cases"]?.arrayValue).compactMap { item -> (String, String)? in
            guard let name = item["name"]?.stringValue, let flag = item["flag"]?.stringValue else { return nil }
            return (name, flag)
        }
        try #require(cases.count == 4)
        return BenchmarkCases(data: data, context: context, cases: cases)
    }
}

/// The inline byte comparison that replaced `memcmp` for short keys must still see every byte.
@Suite("Byte-wise string equality")
struct ByteEqualityTests {
    @Test("equal strings are equal, and a difference in any byte at any length is seen")
    func everyByteAtEveryLength() {
        for length in 0...40 {
            let bytes = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(utf8Equal(text, String(decoding: bytes, as: UTF8.self)), "length \(length)")
            for position in 0..<length {
                var changed = bytes
                changed[position] = UInt8(ascii: "#")
                #expect(!utf8Equal(text, String(decoding: changed, as: UTF8.self)), "length \(length), byte \(position)")
            }
            #expect(!utf8Equal(text, text + "x"), "length \(length) against \(length + 1)")
        }
    }
}
