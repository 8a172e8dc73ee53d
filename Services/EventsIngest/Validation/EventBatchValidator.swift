import ModelsCore

/// Checks an event body without building it: a JSON array whose every element is an object (or, for
/// diagnostic endpoints, also a single object), exactly as strict as ModelsCore's `JSONParser`.
///
/// The body is embedded into the `vane.events.raw` record byte for byte, so anything accepted here
/// must parse wherever the record is read; anything `JSONParser` would refuse (invalid UTF-8, lone
/// surrogate escapes, numbers out of `Double` range, leading zeros, control characters in strings,
/// nesting too deep) is refused here. Building a `JSONValue` tree for every event would cost an
/// allocation per value on the hot path; this scan allocates nothing.
enum EventBatchValidator {
    /// What the body must be.
    enum Shape: Sendable {
        /// A JSON array of objects (`/bulk` and the other analytics endpoints).
        case batch
        /// A single JSON object or an array of objects (diagnostic endpoints).
        case objectOrBatch
    }

    /// A valid body: where its JSON value lies, and how many events it holds.
    struct Batch: Sendable, Equatable {
        /// The byte range of the top-level value (surrounding whitespace and a byte order mark excluded).
        var range: Range<Int>
        /// Number of events (1 for a single object).
        var eventCount: Int
        /// True when the body is a single object that must be wrapped in an array.
        var isSingleObject: Bool
    }

    /// Why a body was refused, with the byte offset of the problem.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        var offset: Int
        var message: String
        var description: String { "\(message) (at byte \(offset))" }
    }

    /// Nesting allowed inside the body. The record nests the events one level deeper (`{"events":[...]}`)
    /// and must itself stay within `JSONParser.maximumDepth`.
    static let maximumDepth = JSONParser.maximumDepth - 1

    /// Validates `body`.
    static func validate(_ body: UnsafeRawBufferPointer, shape: Shape) throws(Failure) -> Batch {
        guard let base = body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count > 0 else {
            throw Failure(offset: 0, message: "the body is empty; a JSON array of events is expected")
        }
        var scanner = Scanner(base: base, count: body.count)
        return try scanner.body(shape: shape)
    }

    /// Validates `body`.
    static func validate(_ body: [UInt8], shape: Shape) throws(Failure) -> Batch {
        try body.withUnsafeBytes { bytes in
            Result { () throws(Failure) -> Batch in try validate(bytes, shape: shape) }
        }.get()
    }
}

/// A forward-only scanner over the body. Containers are tracked on a small explicit stack, so hostile
/// nesting cannot exhaust the thread's stack.
private struct Scanner {
    typealias Failure = EventBatchValidator.Failure

    let base: UnsafePointer<UInt8>
    let count: Int
    var position = 0
    /// Open containers inside the current event: true for an object, false for an array.
    var containers: [Bool] = []

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
        containers.reserveCapacity(16)
    }

    @inline(__always) func byte(_ offset: Int) -> UInt8 { base[offset] }

    func fail(_ message: String, at offset: Int? = nil) -> Failure {
        Failure(offset: min(offset ?? position, count), message: message)
    }

    @inline(__always) mutating func skipWhitespace() {
        while position < count {
            switch base[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func body(shape: EventBatchValidator.Shape) throws(Failure) -> EventBatchValidator.Batch {
        if count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF { position = 3 }
        skipWhitespace()
        guard position < count else { throw fail("the body is empty; a JSON array of events is expected") }
        let start = position
        var events = 0
        var single = false
        switch base[position] {
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if position < count, base[position] == UInt8(ascii: "]") {
                position += 1
                break
            }
            while true {
                skipWhitespace()
                guard position < count else { throw fail("unexpected end of input in the event array") }
                guard base[position] == UInt8(ascii: "{") else {
                    throw fail("event \(events) is not a JSON object; every element of the array must be an event object")
                }
                try event(depth: 2)
                events += 1
                skipWhitespace()
                guard position < count else { throw fail("unexpected end of input in the event array") }
                switch base[position] {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    let end = position
                    skipWhitespace()
                    guard position == count else { throw fail("unexpected data after the event array") }
                    return .init(range: start..<end, eventCount: events, isSingleObject: false)
                default: throw fail("expected ',' or ']' in the event array")
                }
            }
        case UInt8(ascii: "{") where shape == .objectOrBatch:
            // Nested as deep as an array element: it is wrapped in an array before publishing.
            try event(depth: 2)
            events = 1
            single = true
        default:
            throw fail(shape == .batch ? "expected a JSON array of event objects" : "expected a JSON object or an array of objects")
        }
        let end = position
        skipWhitespace()
        guard position == count else { throw fail("unexpected data after the JSON value") }
        return .init(range: start..<end, eventCount: events, isSingleObject: single)
    }

    /// Scans one complete event object, which starts at the current `{` and sits at nesting `depth`
    /// of the body (2: inside the top-level array).
    mutating func event(depth: Int) throws(Failure) {
        containers.removeAll(keepingCapacity: true)
        // Each turn starts at the first byte of a value.
        while true {
            guard position < count else { throw fail("unexpected end of input") }
            var completed = true
            switch base[position] {
            case UInt8(ascii: "{"):
                try open(object: true, depth: depth)
                skipWhitespace()
                if position < count, base[position] == UInt8(ascii: "}") {
                    position += 1
                    containers.removeLast()
                } else {
                    try propertyName()
                    completed = false
                }
            case UInt8(ascii: "["):
                try open(object: false, depth: depth)
                skipWhitespace()
                if position < count, base[position] == UInt8(ascii: "]") {
                    position += 1
                    containers.removeLast()
                } else {
                    completed = false
                }
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character '\(printable(base[position]))'")
            }
            if !completed { continue }
            // After a complete value: close containers until one continues with another value.
            while true {
                guard let isObject = containers.last else { return }
                skipWhitespace()
                guard position < count else { throw fail("unexpected end of input in \(isObject ? "object" : "array")") }
                let b = base[position]
                if b == UInt8(ascii: ",") {
                    position += 1
                    skipWhitespace()
                    if isObject { try propertyName() }
                    break
                }
                if b == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    position += 1
                    containers.removeLast()
                    continue
                }
                throw fail(isObject ? "expected ',' or '}' in object" : "expected ',' or ']' in array")
            }
        }
    }

    mutating func open(object: Bool, depth: Int) throws(Failure) {
        guard depth + containers.count <= EventBatchValidator.maximumDepth else {
            throw fail("nesting deeper than \(EventBatchValidator.maximumDepth)")
        }
        containers.append(object)
        position += 1
    }

    /// A property name and its colon; leaves the scanner at the property's value.
    mutating func propertyName() throws(Failure) {
        skipWhitespace()
        guard position < count else { throw fail("unexpected end of input in object") }
        guard base[position] == UInt8(ascii: "\"") else { throw fail("expected a property name in double quotes") }
        try string()
        skipWhitespace()
        guard position < count, base[position] == UInt8(ascii: ":") else { throw fail("expected ':' after property name") }
        position += 1
        skipWhitespace()
    }

    mutating func literal(_ text: StaticString) throws(Failure) {
        let length = text.utf8CodeUnitCount
        guard position + length <= count else { throw fail("invalid literal") }
        let expected = text.utf8Start
        for i in 0..<length where base[position + i] != expected[i] { throw fail("invalid literal") }
        position += length
    }

    /// A string with escapes and strict UTF-8 (the Unicode standard's well-formed sequences, which is
    /// what `String(validating:)` accepts).
    mutating func string() throws(Failure) {
        let opening = position
        var i = position + 1
        while i < count {
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                position = i + 1
                return
            }
            if b == UInt8(ascii: "\\") {
                i = try escape(at: i)
                continue
            }
            if b < 0x20 { throw fail("unescaped control character in string", at: i) }
            if b < 0x80 {
                i += 1
                continue
            }
            i = try multiByte(at: i)
        }
        throw fail("unterminated string", at: opening)
    }

    /// Checks the escape starting at the backslash at `i`; returns the offset after it.
    func escape(at i: Int) throws(Failure) -> Int {
        guard i + 1 < count else { throw fail("unterminated string", at: i) }
        switch base[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i + 2
        case UInt8(ascii: "u"):
            let scalar = try hex4(at: i + 2)
            let last = i + 5
            if (0xD800..<0xDC00).contains(scalar) {
                guard last + 6 < count, base[last + 1] == UInt8(ascii: "\\"), base[last + 2] == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate in \\u escape", at: last)
                }
                let low = try hex4(at: last + 3)
                guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid low surrogate", at: last + 3) }
                return last + 7
            }
            if (0xDC00..<0xE000).contains(scalar) { throw fail("unpaired surrogate in \\u escape", at: last) }
            return last + 1
        default:
            throw fail("invalid escape sequence", at: i + 1)
        }
    }

    func hex4(at offset: Int) throws(Failure) -> UInt32 {
        guard offset + 4 <= count else { throw fail("truncated \\u escape", at: offset) }
        var value: UInt32 = 0
        for j in offset..<(offset + 4) {
            let c = base[j]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in \\u escape", at: j)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Checks the UTF-8 sequence whose lead byte (≥ 0x80) is at `i`; returns the offset after it.
    func multiByte(at i: Int) throws(Failure) -> Int {
        let lead = base[i]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw fail("invalid UTF-8 in string", at: i)
        }
        guard i + length <= count, secondRange.contains(base[i + 1]) else { throw fail("invalid UTF-8 in string", at: i) }
        for j in (i + 2)..<(i + length) where base[j] & 0xC0 != 0x80 {
            throw fail("invalid UTF-8 in string", at: i)
        }
        return i + length
    }

    /// A number in JSON's grammar whose value is a finite `Double`.
    mutating func number() throws(Failure) {
        let start = position
        var i = position
        if base[i] == UInt8(ascii: "-") { i += 1 }
        guard i < count, isDigit(base[i]) else { throw fail("invalid number", at: i) }
        var integerDigits = 0
        if base[i] == UInt8(ascii: "0") {
            i += 1
            if i < count, isDigit(base[i]) { throw fail("leading zeros are not allowed in numbers", at: start) }
        } else {
            while i < count, isDigit(base[i]) {
                integerDigits += 1
                i += 1
            }
        }
        var hasExponent = false
        if i < count, base[i] == UInt8(ascii: ".") {
            i += 1
            guard i < count, isDigit(base[i]) else { throw fail("expected digits after decimal point", at: i) }
            while i < count, isDigit(base[i]) { i += 1 }
        }
        if i < count, base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E") {
            hasExponent = true
            i += 1
            if i < count, base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-") { i += 1 }
            guard i < count, isDigit(base[i]) else { throw fail("expected digits in exponent", at: i) }
            while i < count, isDigit(base[i]) { i += 1 }
        }
        position = i
        // Without an exponent, up to 308 integer digits stay below Double's maximum (1.8e308), so only
        // rare forms need the conversion that `JSONParser` performs to reject infinities.
        if hasExponent || integerDigits > 308 {
            let text = String(decoding: UnsafeBufferPointer(start: base + start, count: i - start), as: UTF8.self)
            guard let value = Double(text), value.isFinite else { throw fail("number out of range", at: start) }
        }
    }

    @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    func printable(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }
}
