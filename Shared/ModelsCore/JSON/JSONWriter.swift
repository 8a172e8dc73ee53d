/// A streaming JSON writer into a byte buffer.
///
/// Models write their properties in LaunchDarkly's order through it (the SDKs do not care about
/// order, but people diffing payloads do); ``JSONValue`` objects are written with sorted keys so that
/// the same value always serializes to the same bytes (ETags depend on that).
public struct JSONWriter: Sendable {
    /// The JSON text written so far.
    public private(set) var bytes: [UInt8]
    private var needsComma = false

    /// Creates an empty writer.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The compact JSON text of `value`.
    public static func string(_ value: JSONValue) -> String {
        var writer = JSONWriter()
        writer.writeValue(value)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The compact JSON bytes of `value`.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.writeValue(value)
        return writer.bytes
    }

    /// The text written so far.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always) private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Starts an object (`{`).
    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Ends an object (`}`).
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Starts an array (`[`).
    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Ends an array (`]`).
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes a property name; the next write is its value.
    public mutating func key(_ name: String) {
        separator()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes `null`.
    public mutating func writeNull() {
        separator()
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        needsComma = true
    }

    /// Writes `true` or `false`.
    public mutating func writeBool(_ value: Bool) {
        separator()
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    /// Writes an integer.
    public mutating func writeInt(_ value: Int) {
        separator()
        appendInteger(value)
        needsComma = true
    }

    /// Writes a number: integral values as JSON integers, others in their shortest round-trip form.
    public mutating func writeNumber(_ value: Double) {
        separator()
        if let integer = JSONValue.exactInteger(value) {
            appendInteger(integer)
        } else if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            // JSON has no infinities or NaN; such values cannot come from parsed JSON.
            bytes.append(contentsOf: Array("null".utf8))
        }
        needsComma = true
    }

    /// Writes a string with JSON escaping.
    public mutating func writeString(_ value: String) {
        separator()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes an array of strings.
    public mutating func writeStrings(_ values: [String]) {
        beginArray()
        for value in values { writeString(value) }
        endArray()
    }

    /// Writes already-serialized JSON as the next value. The caller guarantees it is valid JSON.
    public mutating func writeRaw(_ json: some Sequence<UInt8>) {
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// Writes any JSON value; object keys are sorted.
    public mutating func writeValue(_ value: JSONValue) {
        switch value {
        case .null: writeNull()
        case .bool(let b): writeBool(b)
        case .number(let n): writeNumber(n)
        case .string(let s): writeString(s)
        case .array(let elements):
            beginArray()
            for element in elements { writeValue(element) }
            endArray()
        case .object(let properties):
            beginObject()
            for key in properties.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                self.key(key)
                writeValue(properties[key]!)
            }
            endObject()
        }
    }

    private mutating func appendInteger(_ value: Int) {
        if value >= 0, value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for (i, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]])
                }
                runStart = i + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
