@testable import EventsIngest
import ModelsCore
import Testing

@Suite("Event batch validation")
struct EventBatchValidatorTests {
    private func validate(_ text: String,
        shape: EventBatchValidator.Shape = .batch) throws(EventBatchValidator.Failure) -> EventBatchValidator.Batch {
        try EventBatchValidator.validate(Array(text.utf8), shape: shape)
    }

    private func rejects(_ text: String, shape: EventBatchValidator.Shape = .batch, containing fragment: String? = nil) {
        do {
            let batch = try validate(text, shape: shape)
            Issue.record("accepted \(text.debugDescription) as \(batch)")
        } catch {
            if let fragment { #expect(error.message.contains(fragment), "\(error)") }
        }
    }

    @Test("an array of objects is accepted; the range leaves out whitespace and a byte order mark")
    func acceptsBatches() throws {
        let body = " \n[{\"kind\":\"feature\",\"key\":\"f\",\"value\":true}, "
            + "{\"kind\":\"custom\",\"data\":[1,-2.5e3,null,false,{\"a\":\"é\\u00e9\\ud83d\\ude00\"}]}]\t"
        let batch = try validate(body)
        #expect(batch.eventCount == 2)
        #expect(!batch.isSingleObject)
        let bytes = Array(body.utf8)
        #expect(String(decoding: bytes[batch.range], as: UTF8.self) == body.trimmingWhitespace())

        let withBOM: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("[{}]".utf8)
        #expect(try EventBatchValidator.validate(withBOM, shape: .batch).range == 3..<7)
        #expect(try validate("[]").eventCount == 0)
        #expect(try validate("[{},{},{}]").eventCount == 3)
    }

    @Test("unknown kinds, extra fields and any values inside events are kept")
    func tolerantInsideEvents() throws {
        #expect(try validate(#"[{"kind":"something-new","x":{"y":[[],{}]}},{}]"#).eventCount == 2)
    }

    @Test("diagnostic bodies may be one object, which is marked for wrapping")
    func diagnosticShape() throws {
        let object = #"{"kind":"diagnostic-init","id":{"diagnosticId":"x"}}"#
        let single = try validate(" \(object) ", shape: .objectOrBatch)
        #expect(single.isSingleObject && single.eventCount == 1 && single.range == 1..<(1 + object.utf8.count))
        #expect(try validate("[{},{}]", shape: .objectOrBatch).eventCount == 2)
        rejects(#"{"kind":"custom"}"#, containing: "expected a JSON array")
        rejects("7", shape: .objectOrBatch)
    }

    @Test("bodies that are not an array of objects are refused", arguments: [
        "", "   ", "null", "{}", "\"[]\"", "[1]", "[{}, 2]", "[[{}]]", "[{},]", "[,{}]", "[{}", "[{}]]", "[{}] x", "[{}][{}]",
        "[{\"a\"}]", "[{\"a\":}]", "[{\"a\":1,}]", "[{a:1}]", "[{\"a\":tru}]", "[{\"a\":nulll}]", "[{'a':1}]",
        "[{\"a\":01}]", "[{\"a\":1.}]", "[{\"a\":-}]", "[{\"a\":.5}]", "[{\"a\":1e}]", "[{\"a\":+1}]", "[{\"a\":1e400}]",
        "[{\"a\":\"\\x\"}]", "[{\"a\":\"\\u12\"}]", "[{\"a\":\"\\ud800\"}]", "[{\"a\":\"\\udc00\"}]", "[{\"a\":\"\\ud800\\u0041\"}]",
        "[{\"a\":\"tab\there\"}]", "[{\"a\":\"open}]", "[{\"a\":NaN}]", "[{\"a\":Infinity}]",
    ])
    func refusesMalformed(_ body: String) {
        rejects(body)
    }

    @Test("invalid UTF-8 in strings is refused, as JSONParser refuses it")
    func refusesInvalidUTF8() {
        let cases: [[UInt8]] = [[0xC0, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0x80]]
        for bad in cases {
            let body = Array(#"[{"a":""#.utf8) + bad + Array(#""}]"#.utf8)
            #expect(throws: EventBatchValidator.Failure.self) { try EventBatchValidator.validate(body, shape: .batch) }
        }
        let good = Array(#"[{"a":""#.utf8) + [0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80] + Array(#""}]"#.utf8)
        #expect(throws: Never.self) { try EventBatchValidator.validate(good, shape: .batch) }
    }

    @Test("nesting is limited so that the record embedding the batch stays within JSONParser's depth")
    func nestingLimit() throws {
        func nested(_ levels: Int) -> String {
            // levels counts containers inside the event object.
            "[{\"a\":" + String(repeating: "[", count: levels) + String(repeating: "]", count: levels) + "}]"
        }
        // Body depth = 2 (array, event) + levels; the record adds one level.
        let deepest = EventBatchValidator.maximumDepth - 2
        let accepted = try validate(nested(deepest))
        let record = EventsRecord.encode(environmentID: "e", payloadID: "p", receivedAt: 1, source: .server, userAgent: "",
                                         rawEvents: Array(nested(deepest).utf8)[accepted.range])
        #expect(throws: Never.self) { try JSONParser.parse(record) }
        rejects(nested(deepest + 1), containing: "nesting")
        rejects(String(repeating: "[", count: 100_000))
    }

    @Test("the validator agrees with JSONParser on mutated batches, and what it accepts makes a readable record")
    func agreesWithJSONParser() throws {
        let seed = Array((#"[{"kind":"feature","creationDate":1700000000000,"key":"f-1","value":{"a":[1,2.5,-3e2]},"default":null,"#
            + #""version":7,"variation":1,"reason":{"kind":"FALLTHROUGH"},"context":{"kind":"user","key":"u\u00e9\"1","name":"Ann"}},"#
            + #"{"kind":"custom","key":"buy","metricValue":9.99,"data":[true,false,"x"]}]"#).utf8)
        let alphabet = Array("{}[]\":,.-+eE0123456789truefalsnl \\u/\u{7f}".utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xFF]
        var generator = SplitMix64(seed: 0x5eed)
        var acceptedCount = 0
        for _ in 0..<20_000 {
            var body = seed
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0..<body.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: body[position] = alphabet.randomElement(using: &generator)!
                case 1: body.remove(at: position)
                default: body.insert(alphabet.randomElement(using: &generator)!, at: position)
                }
                if body.isEmpty { body = [0x20] }
            }
            let expected: Bool
            if case .array(let elements)? = try? JSONParser.parse(body) {
                expected = elements.allSatisfy { if case .object = $0 { true } else { false } }
            } else {
                expected = false
            }
            let batch = try? EventBatchValidator.validate(body, shape: .batch)
            #expect((batch != nil) == expected, "\(String(decoding: body, as: UTF8.self))")
            guard let batch else { continue }
            acceptedCount += 1
            let value = EventsRecord.encode(environmentID: "env", payloadID: "p", receivedAt: 5, source: .mobile, userAgent: "ua",
                                            rawEvents: body[batch.range])
            let record = try EventsRecord(json: try JSONParser.parse(value))
            #expect(.array(record.events) == (try JSONParser.parse(body)))
        }
        #expect(acceptedCount > 100)
    }
}

/// A small deterministic generator, so that a failing mutation can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
