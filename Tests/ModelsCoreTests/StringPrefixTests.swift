import ModelsCore
import Testing

/// The evaluator compares keys, kinds and attribute names by length and first 16 bytes, and only
/// longer strings byte by byte: strings that differ only after 16 bytes, or only in length, or whose
/// first 16 bytes are equal must still be told apart, wherever the evaluator compares them.
@Suite("String comparison past 16 bytes")
struct StringPrefixTests {
    private let long = "abcdefghijklmnop"   // exactly 16 bytes

    @Test("target and segment keys that share their first 16 bytes")
    func keys() {
        let data = evaluationData(flags: [
            #"{"key":"t","on":true,"variations":[0,1],"fallthrough":{"variation":0},"targets":[{"values":["\#(long)-1"],"variation":1}]}"#,
            #"{"key":"s","on":true,"variations":[0,1],"fallthrough":{"variation":0},"rules":[{"id":"r","variation":1,"#
                + #""clauses":[{"attribute":"","op":"segmentMatch","values":["\#(long)-segment"]}]}]}"#,
        ], segments: [#"{"key":"\#(long)-segment","included":["\#(long)-1","\#(long)"],"excluded":[]}"#])
        for (key, expected) in [("\(long)-1", 1), ("\(long)-2", 0), (long, 0), ("\(long)-10", 0), ("abcdefghijklmno", 0)] {
            #expect(data.evaluate(flagKey: "t", context: .user(key)).variationIndex == expected, "target, key \(key)")
        }
        for (key, expected) in [("\(long)-1", 1), ("\(long)", 1), ("\(long)-2", 0), ("abcdefghijklmnoq", 0)] {
            #expect(data.evaluate(flagKey: "s", context: .user(key)).variationIndex == expected, "segment, key \(key)")
        }
    }

    @Test("attribute names, context kinds and `in` values longer than 16 bytes")
    func attributesAndKinds() {
        let data = evaluationData(flags: [
            #"{"key":"a","on":true,"variations":[0,1],"fallthrough":{"variation":0},"rules":[{"id":"r","variation":1,"#
                + #""clauses":[{"contextKind":"\#(long)-kind","attribute":"\#(long)-name","op":"in","values":["\#(long)-value"]}]}]}"#,
        ])
        let matching = context(#"{"kind":"\#(long)-kind","key":"k","\#(long)-name":"\#(long)-value"}"#)
        #expect(data.evaluate(flagKey: "a", context: matching).variationIndex == 1)
        let cases = [
            #"{"kind":"\#(long)-kind","key":"k","\#(long)-nam":"\#(long)-value"}"#,
            #"{"kind":"\#(long)-kind","key":"k","\#(long)-namf":"\#(long)-value"}"#,
            #"{"kind":"\#(long)-kind","key":"k","\#(long)-name":"\#(long)-valuf"}"#,
            #"{"kind":"\#(long)-kind","key":"k","\#(long)-name":"\#(long)-value "}"#,
            #"{"kind":"\#(long)-kinf","key":"k","\#(long)-name":"\#(long)-value"}"#,
            #"{"kind":"\#(long)","key":"k","\#(long)-name":"\#(long)-value"}"#,
        ]
        for text in cases {
            #expect(data.evaluate(flagKey: "a", context: context(text)).variationIndex == 0, "\(text)")
        }
        // The same in a multi-kind context, and with the value inside an array.
        let multi = context(#"{"kind":"multi","user":{"key":"u"},"\#(long)-kind":{"key":"k","\#(long)-name":["x","\#(long)-value"]}}"#)
        #expect(data.evaluate(flagKey: "a", context: multi).variationIndex == 1)
    }
}
