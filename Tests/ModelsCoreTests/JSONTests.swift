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
}
