/// A point in time for the `before`/`after` operators, with nanosecond precision.
struct Instant: Sendable, Hashable, Comparable {
    var seconds: Int64
    /// Always in 0..<1_000_000_000.
    var nanoseconds: Int64

    static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.seconds != rhs.seconds ? lhs.seconds < rhs.seconds : lhs.nanoseconds < rhs.nanoseconds
    }

    /// The instant a clause or context value denotes: a JSON number is Unix milliseconds, a string is
    /// RFC 3339; anything else is not a time.
    init?(_ value: JSONValue) {
        switch value {
        case .number(let millis): self.init(unixMilliseconds: millis)
        case .string(let text): self.init(rfc3339: text)
        default: return nil
        }
    }

    /// A clause value as a time. Go marks unparsable clause values with the zero `time.Time`, so a
    /// clause value that *is* that instant (0001-01-01T00:00:00Z) never matches either.
    static func clauseValue(_ value: JSONValue) -> Instant? {
        guard let instant = Instant(value), instant != goZeroTime else { return nil }
        return instant
    }

    /// Go's zero `time.Time`: January 1, year 1, 00:00:00 UTC.
    static let goZeroTime = Instant(seconds: -62_135_596_800, nanoseconds: 0)

    init(seconds: Int64, nanoseconds: Int64) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Unix milliseconds exactly as LaunchDarkly's Go evaluator converts them:
    /// `time.Unix(0, int64(ms) * int64(time.Millisecond))` — fractions truncated toward zero, and the
    /// nanosecond product wrapping at 64 bits (so only dates before 2262 are meaningful, in Go too).
    init(unixMilliseconds millis: Double) {
        // Go's float64 → int64 conversion yields math.MinInt64 for out-of-range values on amd64.
        let whole: Int64 = (millis >= -9.223_372_036_854_775_808e18 && millis < 9.223_372_036_854_775_808e18)
            ? Int64(millis) : Int64.min
        let nanos = whole &* 1_000_000
        var seconds = nanos / 1_000_000_000
        var remainder = nanos % 1_000_000_000
        if remainder < 0 {
            seconds -= 1
            remainder += 1_000_000_000
        }
        self.seconds = seconds
        self.nanoseconds = remainder
    }

    /// RFC 3339 as LaunchDarkly's Go evaluator parses it (`ldmodel/parse_time.go`): a 4-digit year,
    /// 2-digit month and day, `T` or `t`, a 1- or 2-digit hour, 2-digit minutes and seconds (60
    /// allowed), an optional fraction of at most 9 digits, then `Z`/`z` or `±hh:mm` (hh up to 99).
    /// Out-of-range days roll over as Go's `time.Date` does. Nothing after `Z` is examined.
    init?(rfc3339 text: String) {
        // Scans the string's own bytes: evaluation parses context values here and must not allocate.
        var text = text
        guard let instant = text.withUTF8({ Self.parse(rfc3339: $0) }) else { return nil }
        self = instant
    }

    private static func parse(rfc3339 bytes: UnsafeBufferPointer<UInt8>) -> Instant? {
        var scanner = ASCIIScanner(bytes)
        let hyphen = UInt8(ascii: "-"), colon = UInt8(ascii: ":")
        guard let (year, _) = scanner.field(until: { $0 == hyphen }, eofOK: false, length: 4...4, range: 0...9999),
            let (month, _) = scanner.field(until: { $0 == hyphen }, eofOK: false, length: 2...2, range: 1...12),
            let (day, _) = scanner.field(until: { $0 == UInt8(ascii: "T") || $0 == UInt8(ascii: "t") }, eofOK: false,
                length: 2...2, range: 1...31),
            let (hour, _) = scanner.field(until: { $0 == colon }, eofOK: false, length: 1...2, range: 0...23),
            let (minute, _) = scanner.field(until: { $0 == colon }, eofOK: false, length: 2...2, range: 0...59),
            let (second, secondsEnd) = scanner.field(until: Self.endOfSeconds, eofOK: false, length: 2...2, range: 0...60)
        else { return nil }
        var terminator = secondsEnd
        var nanos = 0
        if terminator == UInt8(ascii: ".") {
            let (fraction, end) = scanner.read(until: { $0 == UInt8(ascii: "Z") || $0 == UInt8(ascii: "z") || $0 == UInt8(ascii: "+")
                || $0 == UInt8(ascii: "-") })
            guard let end, fraction.count <= 9, let n = ASCIIScanner.number(fraction) else { return nil }
            nanos = n
            for _ in fraction.count..<9 { nanos *= 10 }
            terminator = end
        }
        var offsetSeconds = 0
        if terminator == UInt8(ascii: "+") || terminator == UInt8(ascii: "-") {
            guard let (hours, _) = scanner.field(until: { $0 == colon }, eofOK: false, length: 2...2, range: 0...99),
                let (minutes, _) = scanner.field(until: { _ in false }, eofOK: true, length: 2...2, range: 0...59)
            else { return nil }
            offsetSeconds = (minutes + hours * 60) * 60
            if terminator == UInt8(ascii: "+") { offsetSeconds = -offsetSeconds }
        }
        let days = Self.daysFromCivil(year: year, month: month, day: 1) + Int64(day - 1)
        return Instant(seconds: days * 86_400 + Int64(hour * 3600 + minute * 60 + second + offsetSeconds), nanoseconds: Int64(nanos))
    }

    private static func endOfSeconds(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ".") || byte == UInt8(ascii: "Z") || byte == UInt8(ascii: "z")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// The tiny ASCII tokenizer of LaunchDarkly's Go date and semver parsers: NUL and non-ASCII bytes end
/// input with an error.
private struct ASCIIScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads up to a terminator and returns the text before it and the terminator; the terminator is
    /// nil at the end of input or at a NUL or non-ASCII byte (where `position` then stops).
    mutating func read(until isTerminator: (UInt8) -> Bool) -> (Slice<UnsafeBufferPointer<UInt8>>, UInt8?) {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == 0 || byte > 0x7F { return (bytes[start..<position], nil) }
            position += 1
            if isTerminator(byte) { return (bytes[start..<(position - 1)], byte) }
        }
        return (bytes[start..<position], nil)
    }

    mutating func field(until isTerminator: (UInt8) -> Bool, eofOK: Bool, length: ClosedRange<Int>,
        range: ClosedRange<Int>) -> (Int, UInt8?)? {
        let (text, terminator) = read(until: isTerminator)
        guard !text.isEmpty, eofOK || terminator != nil, length.contains(text.count), let n = Self.number(text),
            range.contains(n)
        else { return nil }
        return (n, terminator)
    }

    static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty else { return nil }
        var n = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n
    }
}

/// Unix milliseconds of an RFC 3339 time, parsed as LaunchDarkly's evaluator does; nil if invalid.
public func rfc3339UnixMilliseconds(_ text: String) -> Int? {
    guard let instant = Instant(rfc3339: text) else { return nil }
    return Int(instant.seconds) * 1000 + Int(instant.nanoseconds / 1_000_000)
}
