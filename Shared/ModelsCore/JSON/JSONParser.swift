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

    /// Which elements ``parse(_:omitting:)`` leaves out: objects in the array `arrayKey` of the top-level object whose
    /// `discriminator` property is a string not in `keptValues`.
    public struct ElementFilter: Sendable {
        /// The property of the top-level object holding the array.
        public var arrayKey: String
        /// The property of an element that decides whether it is kept (its last occurrence, as in ``JSONValue/object(_:)``).
        public var discriminator: String
        /// The discriminator values of the elements that are built; elements without the property, or whose property is not
        /// a string, are kept too.
        public var keptValues: Set<String>

        public init(arrayKey: String, discriminator: String, keptValues: Set<String>) {
            self.arrayKey = arrayKey
            self.discriminator = discriminator
            self.keptValues = keptValues
        }
    }

    /// Parses one JSON document like ``parse(_:)-(some Collection<UInt8>)``, but leaves out the elements `filter` does not keep:
    /// they are validated exactly as `parse` would (the document throws the same errors), but not built, which is most of
    /// parsing's cost. A reader that ignores most elements of a large array (events-processor and the SDK events it
    /// does not aggregate) saves building them.
    ///
    /// - Returns: The document without the omitted elements, and how many were omitted from the array that remains
    ///   under `arrayKey` (the last occurrence of the key wins, as in ``JSONValue/object(_:)``).
    public static func parse(
        _ bytes: some Collection<UInt8>, omitting filter: ElementFilter
    ) throws(JSONParseError) -> (value: JSONValue, omitted: Int) {
        let result: Result<(JSONValue, Int), JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) -> (JSONValue, Int) in try parseBuffer(buffer, filter: filter) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONParseError) -> (JSONValue, Int) in try parseBuffer(buffer, filter: filter) }
        }.get()
    }

    private static func parseBuffer(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        try parseBuffer(buffer, filter: nil).0
    }

    private static func parseBuffer(
        _ buffer: UnsafeBufferPointer<UInt8>, filter: ElementFilter?
    ) throws(JSONParseError) -> (JSONValue, Int) {
        var parser = Parser(input: buffer, filter: filter)
        // A UTF-8 byte order mark is tolerated at the very start of a document, as most tools write one.
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { parser.position = 3 }
        parser.skipWhitespace()
        let value: JSONValue
        if filter != nil, parser.position < buffer.count, buffer[parser.position] == UInt8(ascii: "{") {
            value = try parser.parseObject(depth: 1, topLevel: true)
        } else {
            value = try parser.parseValue(depth: 0)
        }
        parser.skipWhitespace()
        if parser.position < buffer.count { throw parser.error("unexpected data after the JSON value") }
        return (value, parser.omitted)
    }
}

private struct Parser {
    let input: UnsafeBufferPointer<UInt8>
    var position = 0
    let filter: JSONParser.ElementFilter?
    /// The filter's discriminator as bytes, for comparing property names without building them.
    let discriminator: [UInt8]
    /// Elements omitted from the last array under the filter's key.
    var omitted = 0

    init(input: UnsafeBufferPointer<UInt8>, filter: JSONParser.ElementFilter? = nil) {
        self.input = input
        self.filter = filter
        discriminator = filter.map { Array($0.discriminator.utf8) } ?? []
    }

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

    /// An object or an array: the bytes and words of its syntax errors. Building and skipping share these steps, so
    /// both fail with the same message at the same offset.
    enum Container {
        case object, array

        var closer: UInt8 { self == .object ? UInt8(ascii: "}") : UInt8(ascii: "]") }
        var name: String { self == .object ? "object" : "array" }
    }

    /// Enters the container at `position` (its opening byte); true when it is empty (then it was left already).
    @inline(__always)
    mutating func enter(_ container: Container, depth: Int) throws(JSONParseError) -> Bool {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
        position += 1
        skipWhitespace()
        guard position < input.count, input[position] == container.closer else { return false }
        position += 1
        return true
    }

    /// After a member or an element: true when the container ends here (then it was left), false after a comma.
    @inline(__always)
    mutating func leaves(_ container: Container) throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard position < input.count else { throw error("unexpected end of input in \(container.name)") }
        switch input[position] {
        case UInt8(ascii: ","):
            position += 1
            return false
        case container.closer:
            position += 1
            return true
        default: throw error("expected ',' or '\(Character(Unicode.Scalar(container.closer)))' in \(container.name)")
        }
    }

    /// Before a property name: checks that one starts here.
    @inline(__always)
    mutating func expectPropertyName() throws(JSONParseError) {
        skipWhitespace()
        guard position < input.count else { throw error("unexpected end of input in object") }
        guard input[position] == UInt8(ascii: "\"") else { throw error("expected a property name in double quotes") }
    }

    /// After a property name: the colon, and the whitespace before its value.
    @inline(__always)
    mutating func expectColon() throws(JSONParseError) {
        skipWhitespace()
        guard position < input.count, input[position] == UInt8(ascii: ":") else { throw error("expected ':' after property name") }
        position += 1
        skipWhitespace()
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

    mutating func parseObject(depth: Int, topLevel: Bool = false) throws(JSONParseError) -> JSONValue {
        // Room for 12 properties (an SDK event has about ten): growing from empty rehashed every key several times.
        var object = [String: JSONValue](minimumCapacity: 8)
        if try enter(.object, depth: depth) { return .object(object) }
        repeat {
            try expectPropertyName()
            let key = try parseString()
            try expectColon()
            if topLevel, let filter, key == filter.arrayKey {
                omitted = 0
                if position < input.count, input[position] == UInt8(ascii: "[") {
                    object[key] = try parseFilteredArray(depth: depth + 1, keeping: filter.keptValues)
                } else {
                    object[key] = try parseValue(depth: depth)
                }
            } else {
                object[key] = try parseValue(depth: depth)
            }
        } while try !leaves(.object)
        return .object(object)
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        var array: [JSONValue] = []
        if try enter(.array, depth: depth) { return .array(array) }
        repeat {
            skipWhitespace()
            array.append(try parseValue(depth: depth))
        } while try !leaves(.array)
        return .array(array)
    }

    /// ``parseArray(depth:)`` leaving out the object elements whose discriminator is a string not in `kept`.
    mutating func parseFilteredArray(depth: Int, keeping kept: Set<String>) throws(JSONParseError) -> JSONValue {
        var array: [JSONValue] = []
        if try enter(.array, depth: depth) { return .array(array) }
        repeat {
            skipWhitespace()
            if position < input.count, input[position] == UInt8(ascii: "{") {
                let start = position
                // Most producers write the discriminator first: an element seen to be kept is built in one pass.
                if let first = firstDiscriminator(), kept.contains(first) {
                    let element = try parseValue(depth: depth)
                    // A later duplicate of the discriminator wins, as it does in the object built.
                    if case .object(let properties) = element, let name = filter?.discriminator,
                        case .string(let value)? = properties[name], !kept.contains(value)
                    {
                        omitted += 1
                    } else {
                        array.append(element)
                    }
                } else if case .string(let value) = try skipObject(depth: depth + 1), !kept.contains(value) {
                    omitted += 1
                } else {
                    position = start
                    array.append(try parseValue(depth: depth))
                }
            } else {
                array.append(try parseValue(depth: depth))
            }
        } while try !leaves(.array)
        return .array(array)
    }

    /// The value of the object's first property at `position` if that property is the discriminator, and both are plain
    /// ASCII without escapes (then the bytes are the strings); nil otherwise. Reads ahead without moving or validating:
    /// the caller parses or skips the object afterwards either way.
    func firstDiscriminator() -> String? {
        var i = position + 1
        func skipSpace() {
            while i < input.count, input[i] == 0x20 || input[i] == 0x0A || input[i] == 0x0D || input[i] == 0x09 { i += 1 }
        }
        skipSpace()
        guard i < input.count, input[i] == UInt8(ascii: "\""), i + discriminator.count + 1 < input.count else { return nil }
        for (offset, byte) in discriminator.enumerated() where input[i + 1 + offset] != byte { return nil }
        i += discriminator.count + 1
        guard input[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        skipSpace()
        guard i < input.count, input[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        skipSpace()
        guard i < input.count, input[i] == UInt8(ascii: "\"") else { return nil }
        let start = i + 1
        i = start
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "\"") { return String(decoding: UnsafeBufferPointer(rebasing: input[start..<i]), as: UTF8.self) }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            i += 1
        }
        return nil
    }

    /// What ``skipObject(depth:)`` saw of the discriminator (its last occurrence).
    enum Discriminator {
        case absent
        case string(String)
        case other
    }

    /// Validates a value exactly like ``parseValue(depth:)`` (same errors at the same offsets) without building it.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        guard position < input.count else { throw error("unexpected end of input") }
        switch input[position] {
        case UInt8(ascii: "{"): _ = try skipObject(depth: depth + 1)
        case UInt8(ascii: "["): try skipArray(depth: depth + 1)
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try parseNumber()
        default: throw error("unexpected character '\(printable(input[position]))'")
        }
    }

    /// ``parseObject(depth:topLevel:)`` without building the object; returns the last value of the discriminator.
    mutating func skipObject(depth: Int) throws(JSONParseError) -> Discriminator {
        var found = Discriminator.absent
        if try enter(.object, depth: depth) { return found }
        repeat {
            try expectPropertyName()
            let isDiscriminator = try skipPropertyName()
            try expectColon()
            if isDiscriminator, position < input.count, input[position] == UInt8(ascii: "\"") {
                found = .string(try parseString())
            } else {
                try skipValue(depth: depth)
                if isDiscriminator { found = .other }
            }
        } while try !leaves(.object)
        return found
    }

    /// Skips a property name; whether it equals the filter's discriminator (as Strings compare: a name with escapes
    /// or non-ASCII bytes is decoded first).
    mutating func skipPropertyName() throws(JSONParseError) -> Bool {
        let start = position + 1
        try skipString()
        let name = UnsafeBufferPointer(rebasing: input[start..<(position - 1)])
        guard name.contains(where: { $0 >= 0x80 || $0 == UInt8(ascii: "\\") }) else {
            return name.elementsEqual(discriminator)
        }
        let end = position
        position = start - 1
        let decoded = try parseString()
        position = end
        return decoded == filter?.discriminator
    }

    /// ``parseArray(depth:)`` without building the array.
    mutating func skipArray(depth: Int) throws(JSONParseError) {
        if try enter(.array, depth: depth) { return }
        repeat {
            skipWhitespace()
            try skipValue(depth: depth)
        } while try !leaves(.array)
    }

    /// ``parseString()`` without building the string: plain ASCII is checked here; a string with escapes or other bytes
    /// (rare in what is skipped) goes through `parseString`, which validates them.
    mutating func skipString() throws(JSONParseError) {
        var i = position + 1
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "\"") {
                position = i + 1
                return
            }
            if byte == UInt8(ascii: "\\") || byte >= 0x80 { break }
            if byte < 0x20 { throw error("unescaped control character in string", at: i) }
            i += 1
        }
        _ = try parseString()
    }

    mutating func parseString() throws(JSONParseError) -> String {
        let start = position + 1
        var i = start
        var bits: UInt8 = 0
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(rebasing: input[start..<i])
                position = i + 1
                // ASCII needs no validation: `String(decoding:)` is specialized for UTF-8, while `String(validating:)`
                // looks its encoding's metadata up at run time on every call (a seventh of the events-processor's
                // parsing time went there).
                if bits < 0x80 { return String(decoding: bytes, as: UTF8.self) }
                guard let s = String(validating: bytes, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: start)
                }
                return s
            }
            bits |= byte
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
