import ModelsCore
import Testing

@Suite("JSON parsing and writing")
struct JSONTests {
    @Test("round-trips values with integers kept as integers")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,-3,1e3,true,false,null,"x\"y\\z\n"],"b":{"c":{}},"d":[]}"#
        let value = try JSONParser.parse(text)
        #expect(JSONWriter.string(value) == #"{"a":[1,2.5,-3,1000,true,false,null,"x\"y\\z\n"],"b":{"c":{}},"d":[]}"#)
    }

    @Test("numbers: integral values print without a decimal point, others in shortest form")
    func numbers() {
        #expect(JSONWriter.string(.number(3)) == "3")
        #expect(JSONWriter.string(.number(3.0)) == "3")
        #expect(JSONWriter.string(.number(-0.5)) == "-0.5")
        #expect(JSONWriter.string(.number(1e20)) == "100000000000000000000" || JSONWriter.string(.number(1e20)) == "1e+20")
        #expect(JSONWriter.string(.number(1_512_543_600_000)) == "1512543600000")
    }

    @Test("strings: escapes, surrogate pairs, control characters")
    func strings() throws {
        #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00\t""#) == .string("é😀\t"))
        #expect(JSONWriter.string(.string("a\u{01}b")) == #""a\u0001b""#)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ud83d""#) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse("\"a\u{01}\"") }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test("syntax errors report line and column")
    func errorPosition() {
        do {
            _ = try JSONParser.parse("{\n  \"a\": 1,\n  \"b\": tru\n}")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 8)
        }
    }

    @Test("rejects what RFC 8259 rejects", arguments: [
        "", "01", "1.", ".5", "-", "+1", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "[1 2]", "nul", "1 2", "NaN", "Infinity",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("bounds nesting depth instead of exhausting the stack")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONParser.parse(fine)) != nil)
    }

    @Test("equality: numbers by value, never across types")
    func equality() {
        #expect(JSONValue.number(1) == JSONValue.number(1.0))
        #expect(JSONValue.bool(true) != JSONValue.number(1))
        #expect(json(#"{"a":1,"b":2}"#) == json(#"{"b":2,"a":1}"#))
    }

    // MARK: - Parsing with omitted elements

    static let filter = JSONParser.ElementFilter(arrayKey: "events", discriminator: "kind", keptValues: ["feature", "summary"])

    /// What `parse(_:omitting:)` must return: the full parse with the omitted elements taken out of the last `events`.
    static func expectedOmission(_ text: String) throws -> (JSONValue, Int) {
        guard case .object(var object) = try JSONParser.parse(text), case .array(let events)? = object["events"] else {
            return (try JSONParser.parse(text), 0)
        }
        let kept = events.filter { event in
            guard case .object(let properties) = event, case .string(let kind)? = properties["kind"] else { return true }
            return filter.keptValues.contains(kind)
        }
        object["events"] = .array(kept)
        return (.object(object), events.count - kept.count)
    }

    @Test("omitting elements: the same document without the elements not kept", arguments: [
        #"{"events":[{"kind":"index","context":{"kind":"user","key":"u","a":[1,2.5,-3e2,true,false,null,"x\n\u00e9"]}},"#
            + #"{"kind":"feature","key":"f"},{"kind":"identify"},{"a":1},{"kind":7},{"kind":null},3,"s",[],{},"#
            + #"{"a":{"kind":"index"},"kind":"summary"},{"kind":"summary","b":"é"},{"b":1,"kind":"identify"}],"x":{"kind":"index"}}"#,
        // The last occurrence of the discriminator decides, in either order; escaped names are the same name.
        #"{"events":[{"kind":"index","kind":"feature"},{"kind":"feature","kind":"index"},{"ki\u006ed":"index"},"#
            + #"{"kind":"index","ki\u006ed":"feature"},{"k\u00efnd":"index"},{ "kind" : "index" },{"kind":"ind\u0065x"}]}"#,
        // The last "events" wins, with its count; other arrays and nested "events" are not filtered.
        #"{"events":[{"kind":"index"}],"other":[{"kind":"index"}],"events":[{"kind":"identify"},{"kind":"identify"}]}"#,
        #"{"events":[{"kind":"index"}],"events":5}"#,
        #"{"a":{"events":[{"kind":"index"}]}}"#,
        #"[{"events":[{"kind":"index"}]}]"#,
        "\u{FEFF}" + #" {"events" : [ ] } "#,
        #"{"events":[]}"#,
    ])
    func omitting(_ text: String) throws {
        let (value, omitted) = try JSONParser.parse(Array(text.utf8), omitting: Self.filter)
        let (expected, expectedOmitted) = try Self.expectedOmission(text)
        #expect(value == expected)
        #expect(omitted == expectedOmitted)
    }

    @Test("omitting elements: a document is refused exactly as by parse, errors inside omitted elements too", arguments: [
        #"{"events":[{"kind":"index","a":01}]}"#, #"{"events":[{"kind":"index","a":1e999}]}"#,
        #"{"events":[{"kind":"index","a":"\x"}]}"#, #"{"events":[{"kind":"index","a":"\ud800"}]}"#,
        "{\"events\":[{\"kind\":\"index\",\"a\":\"\u{01}\"}]}", #"{"events":[{"kind":"index","a":tru}]}"#,
        #"{"events":[{"kind":"index","a":[1,]}]}"#, #"{"events":[{"kind":"index","a":{"b":1,}}]}"#,
        #"{"events":[{"kind":"index","a" 1}]}"#, #"{"events":[{"kind":"index",a:1}]}"#, #"{"events":[{"kind":"index","a":"x}]}"#,
        #"{"events":[{"kind":"index","a":1]}"#, #"{"events":[{"kind":"index"},]}"#, #"{"events":[{"kind":"index"}"#,
        #"{"events":[{"kind":"index","a":-}]}"#, #"{"events":[{"kind":"index","a":1.}]}"#, #"{"events":[{"kind":"index","a":+1}]}"#,
        #"{"events":[{"kind":"index","a":1}] x"#, #"{"events":[{"kind":"index" "a":1}]}"#, #"{"events":[{"kind":"index","a":}]}"#,
        #"{"events":[{"kind":"index","kind":"\q"}]}"#, #"{"events":[{"kind":"inde"#, #"{"events":[{"kind""#,
        #"{"events":[{"kind":"index","\u12":1}]}"#, #"{"events":[{"kind":"index","a":[{"b":nul}]}]}"#,
    ])
    func omittingRefuses(_ text: String) {
        let full = Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(text) }
        let omitting = Result { () throws(JSONParseError) -> JSONValue in
            try JSONParser.parse(Array(text.utf8), omitting: Self.filter).value
        }
        guard case .failure(let expected) = full else {
            Issue.record("parse accepted \(text)")
            return
        }
        #expect(throws: expected) { try omitting.get() }
    }

    @Test("omitting elements: invalid UTF-8 and nesting depth inside omitted elements are refused like parse")
    func omittingRefusesBytes() {
        let prefix = Array(#"{"events":[{"kind":"index","a":""#.utf8)
        let invalid = prefix + [0xFF] + Array(#""}]}"#.utf8)
        let errors = [invalid, prefix + [0xC3] + Array(#""}]}"#.utf8)].map { bytes in
            (Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes) },
             Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes, omitting: Self.filter).value })
        }
        for (full, omitting) in errors {
            guard case .failure(let expected) = full else {
                Issue.record("parse accepted invalid UTF-8")
                continue
            }
            #expect(throws: expected) { try omitting.get() }
        }
        let deep = #"{"events":[{"kind":"index","a":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}]}"
        let full = Result { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(deep) }
        guard case .failure(let expected) = full else {
            Issue.record("parse accepted nesting deeper than the maximum")
            return
        }
        #expect(throws: expected) { try JSONParser.parse(Array(deep.utf8), omitting: Self.filter) }
        let shallow = #"{"events":[{"kind":"index","a":"# + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}]}"
        #expect((try? JSONParser.parse(Array(shallow.utf8), omitting: Self.filter))?.omitted == 1)
    }
}
