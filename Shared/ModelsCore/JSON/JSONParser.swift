/// A JSON syntax error with the position of the problem.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset of the problem in the input (0-based).
    public var offset: Int
    /// Line of the problem (1-based).
    public var line: Int
    /// Column of the problem, counted in bytes (1-based).
    public var column: Int
    /// What was wrong.
    public var message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// It exists, rather than Foundation's `JSONSerialization`, so that errors carry a line and column,
/// integers and floats stay distinguishable by value, invalid UTF-8 is rejected, and nesting depth is
/// bounded (hostile input cannot exhaust the stack of a service).
public enum JSONParser {
    /// Maximum nesting of arrays and objects.
    public static let maximumDepth = 512

    /// Parses one JSON document.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }.get()
    }

    /// Parses one JSON document from text.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parseBuffer(buffer) }
        }.get()
    }

    private static func parseBuffer(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = Parser(input: buffer)
        // A UTF-8 byte order mark is tolerated at the very start of a document, as most tools write one.
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { parser.position = 3 }
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position < buffer.count { throw parser.error("unexpected data after the JSON value") }
        return value
    }
}

private struct Parser {
    let input: UnsafeBufferPointer<UInt8>
    var position = 0

    init(input: UnsafeBufferPointer<UInt8>) { self.input = input }

    func error(_ message: String, at offset: Int? = nil) -> JSONParseError {
        let offset = min(offset ?? position, input.count)
        var line = 1
        var lineStart = 0
        for i in 0..<offset where input[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        return JSONParseError(offset: offset, line: line, column: offset - lineStart + 1, message: message)
    }

    mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard position < input.count else { throw error("unexpected end of input") }
        switch input[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw error("unexpected character '\(printable(input[position]))'")
        }
    }

    private func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        guard position + count <= input.count else { throw error("invalid literal") }
        for i in 0..<count where input[position + i] != start[i] { throw error("invalid literal") }
        position += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
        position += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "}") {
            position += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard position < input.count else { throw error("unexpected end of input in object") }
            guard input[position] == UInt8(ascii: "\"") else { throw error("expected a property name in double quotes") }
            let key = try parseString()
            skipWhitespace()
            guard position < input.count, input[position] == UInt8(ascii: ":") else {
                throw error("expected ':' after property name")
            }
            position += 1
            skipWhitespace()
            object[key] = try parseValue(depth: depth)
            skipWhitespace()
            guard position < input.count else { throw error("unexpected end of input in object") }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(object)
            default: throw error("expected ',' or '}' in object")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
        position += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if position < input.count, input[position] == UInt8(ascii: "]") {
            position += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < input.count else { throw error("unexpected end of input in array") }
            switch input[position] {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(array)
            default: throw error("expected ',' or ']' in array")
            }
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        let start = position + 1
        var i = start
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "\"") {
                guard let s = String(validating: UnsafeBufferPointer(rebasing: input[start..<i]), as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: start)
                }
                position = i + 1
                return s
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("unescaped control character in string", at: i) }
            i += 1
        }
        var bytes = Array(UnsafeBufferPointer(rebasing: input[start..<i]))
        while i < input.count {
            let byte = input[i]
            switch byte {
            case UInt8(ascii: "\""):
                guard let s = String(validating: bytes, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: start)
                }
                position = i + 1
                return s
            case UInt8(ascii: "\\"):
                i += 1
                guard i < input.count else { break }
                switch input[i] {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "/"): bytes.append(UInt8(ascii: "/"))
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(at: i + 1)
                    i += 4
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard i + 6 < input.count, input[i + 1] == UInt8(ascii: "\\"), input[i + 2] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate in \\u escape", at: i) }
                        let low = try hex4(at: i + 3)
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate", at: i + 3) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("unpaired surrogate in \\u escape", at: i)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape", at: i) }
                    bytes.append(contentsOf: UTF8.encode(unicode)!)
                default:
                    throw error("invalid escape sequence", at: i)
                }
                i += 1
            default:
                if byte < 0x20 { throw error("unescaped control character in string", at: i) }
                bytes.append(byte)
                i += 1
            }
        }
        throw error("unterminated string", at: start - 1)
    }

    private func hex4(at offset: Int) throws(JSONParseError) -> UInt32 {
        guard offset + 4 <= input.count else { throw error("truncated \\u escape", at: offset) }
        var value: UInt32 = 0
        for j in offset..<(offset + 4) {
            let c = input[j]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape", at: j)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = position
        var i = position
        var negative = false
        if input[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard i < input.count, isDigit(input[i]) else { throw error("invalid number", at: i) }
        var integer: UInt64 = 0
        var integerDigits = 0
        if input[i] == UInt8(ascii: "0") {
            i += 1
            if i < input.count, isDigit(input[i]) { throw error("leading zeros are not allowed in numbers", at: start) }
        } else {
            while i < input.count, isDigit(input[i]) {
                if integerDigits < 18 { integer = integer * 10 + UInt64(input[i] - UInt8(ascii: "0")) }
                integerDigits += 1
                i += 1
            }
        }
        var isInteger = true
        if i < input.count, input[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard i < input.count, isDigit(input[i]) else { throw error("expected digits after decimal point", at: i) }
            while i < input.count, isDigit(input[i]) { i += 1 }
        }
        if i < input.count, input[i] == UInt8(ascii: "e") || input[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < input.count, input[i] == UInt8(ascii: "+") || input[i] == UInt8(ascii: "-") { i += 1 }
            guard i < input.count, isDigit(input[i]) else { throw error("expected digits in exponent", at: i) }
            while i < input.count, isDigit(input[i]) { i += 1 }
        }
        position = i
        // Up to 15 digits an integer converts to Double exactly; longer forms go through strtod.
        if isInteger, integerDigits <= 15 {
            return negative ? -Double(integer) : Double(integer)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<i]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw error("number out of range", at: start) }
        return value
    }

    @inline(__always) private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
