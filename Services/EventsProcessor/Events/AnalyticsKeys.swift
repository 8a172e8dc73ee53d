import Foundation

/// Unix milliseconds, as LaunchDarkly SDKs write times.
typealias UnixMilliseconds = Int64

extension UnixMilliseconds {
    static let millisecondsPerHour: Int64 = 3_600_000

    /// The start of the UTC hour containing this instant.
    var hourStart: UnixMilliseconds {
        let remainder = self % Self.millisecondsPerHour
        return remainder >= 0 ? self - remainder : self - remainder - Self.millisecondsPerHour
    }
}

/// An individual context, the unit of correlation: a multi-kind context is several of these.
struct ContextIdentity: Hashable, Sendable, Comparable {
    var kind: String
    var key: String

    static func < (lhs: ContextIdentity, rhs: ContextIdentity) -> Bool {
        (lhs.kind, lhs.key) < (rhs.kind, rhs.key)
    }
}

/// An individual context within one environment: correlation never crosses environments.
struct EnvironmentContext: Hashable, Sendable, Comparable {
    var environmentID: String
    var context: ContextIdentity

    static func < (lhs: EnvironmentContext, rhs: EnvironmentContext) -> Bool {
        (lhs.environmentID, lhs.context.kind, lhs.context.key) < (rhs.environmentID, rhs.context.kind, rhs.context.key)
    }
}

/// An exposure: when a context was served a variation. The first one per flag is the one that
/// counts; "first" orders by time, then by variation index, so ties are decided the same way
/// whatever order events arrive in.
struct Exposure: Hashable, Sendable {
    var exposedAt: UnixMilliseconds
    var variation: Int

    func isEarlier(than other: Exposure) -> Bool {
        (exposedAt, variation) < (other.exposedAt, other.variation)
    }

    static func earliest(_ a: Exposure?, _ b: Exposure) -> Exposure {
        guard let a else { return b }
        return b.isEarlier(than: a) ? b : a
    }

    /// Becomes `other` if `other` is earlier (for `dictionary[key, default: exposure].keepEarliest(exposure)`: one
    /// lookup, where reading and then writing the entry hashed its key's strings twice).
    mutating func keepEarliest(_ other: Exposure) {
        if other.isEarlier(than: self) { self = other }
    }
}

/// Goal events of one context and metric at one instant: how many, and the sum and sum of
/// squares of their numeric values (exact decimals, so totals never depend on addition order).
struct GoalTally: Hashable, Sendable {
    var events: Int64 = 0
    var valueSum: Decimal = 0
    var valueSquares: Decimal = 0
    /// The two sums as PostgreSQL `numeric` text, when known without formatting the decimals: a tally of one event
    /// (nearly every cell of a chunk) keeps the texts of its value. Not part of the tally's identity.
    private(set) var knownTexts: NumericTexts?

    /// `numeric` text of the sum and of the sum of squares.
    struct NumericTexts: Sendable {
        var sum: String
        var squares: String
    }

    init(events: Int64 = 0, valueSum: Decimal = 0, valueSquares: Decimal = 0) {
        self.events = events
        self.valueSum = valueSum
        self.valueSquares = valueSquares
    }

    /// The sum as `numeric` text.
    var valueSumText: String { knownTexts?.sum ?? valueSum.numericText }
    /// The sum of squares as `numeric` text.
    var valueSquaresText: String { knownTexts?.squares ?? valueSquares.numericText }

    private var isEmpty: Bool { events == 0 && valueSum.isZero && valueSquares.isZero }

    static func + (lhs: GoalTally, rhs: GoalTally) -> GoalTally {
        // Adding to an empty tally (`dictionary[cell, default: GoalTally()] += tally`) keeps the texts.
        if lhs.isEmpty { return rhs }
        if rhs.isEmpty { return lhs }
        return GoalTally(
            events: lhs.events + rhs.events, valueSum: lhs.valueSum + rhs.valueSum, valueSquares: lhs.valueSquares + rhs.valueSquares)
    }

    static func += (lhs: inout GoalTally, rhs: GoalTally) { lhs = lhs + rhs }

    static func == (lhs: GoalTally, rhs: GoalTally) -> Bool {
        lhs.events == rhs.events && lhs.valueSum == rhs.valueSum && lhs.valueSquares == rhs.valueSquares
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(events)
        hasher.combine(valueSum)
        hasher.combine(valueSquares)
    }

    /// One goal event, with its `metricValue` if it had one: finite, and within the magnitudes ``EventExtraction``
    /// keeps (`Decimal` multiplication stops the process when a square leaves its range).
    static func event(value: Double?) -> GoalTally {
        guard let value else { return GoalTally(events: 1) }
        guard let digits = ShortestDecimal(value) else {
            let decimal = Decimal.exact(value)
            return GoalTally(events: 1, valueSum: decimal, valueSquares: decimal * decimal)
        }
        let decimal = digits.decimal
        var tally = GoalTally(events: 1, valueSum: decimal, valueSquares: decimal * decimal)
        tally.knownTexts = NumericTexts(sum: digits.numericText, squares: digits.squareNumericText)
        return tally
    }
}

/// A `Double` as the decimal Swift prints for it (its shortest round-trip form, so `9.99` is exactly 9.99), taken
/// apart into digits and a power of ten. Foundation's `Decimal(string:)` and `NSDecimalString` did the same through its
/// locale machinery: about 9 % of the events-processor's CPU in the experiment-heavy benchmark.
struct ShortestDecimal: Equatable {
    var isNegative: Bool
    /// The digits without trailing zeros (0 for zero).
    var significand: UInt64
    var exponent: Int

    /// nil for infinities, NaN, and magnitudes beyond 1e±60.
    init?(_ value: Double) {
        guard value.isFinite else { return nil }
        var significand: UInt64 = 0
        var digitsAfterPoint = 0
        var seenPoint = false
        var exponent = 0
        var exponentSign = 1
        var inExponent = false
        // The form is `-?digits(.digits)?(e[+-]digits)?` (`description` of a finite Double).
        for byte in "\(value)".utf8 {
            switch byte {
            case UInt8(ascii: "-"): if inExponent { exponentSign = -1 }
            case UInt8(ascii: "+"): break
            case UInt8(ascii: "."): seenPoint = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int(byte - UInt8(ascii: "0"))
                if inExponent {
                    exponent = exponent * 10 + digit
                } else {
                    // 17 significant digits at most: the guard only rejects what Swift never prints.
                    guard significand < UInt64.max / 10 - 9 else { return nil }
                    significand = significand * 10 + UInt64(digit)
                    if seenPoint { digitsAfterPoint += 1 }
                }
            default: return nil
            }
        }
        exponent = exponent * exponentSign - digitsAfterPoint
        if significand == 0 {
            exponent = 0
        } else {
            while significand % 10 == 0 {
                significand /= 10
                exponent += 1
            }
        }
        // Within this range `Decimal` holds the value and its square exactly, as the texts do; tiny values beyond it
        // take Foundation's path, so that texts and decimals never disagree.
        guard (-60...60).contains(exponent) else { return nil }
        self.isNegative = value.sign == .minus && significand != 0
        self.significand = significand
        self.exponent = exponent
    }

    var decimal: Decimal {
        Decimal(sign: isNegative ? .minus : .plus, exponent: exponent, significand: Decimal(significand))
    }

    /// `numeric` input text: digits and a power of ten (PostgreSQL reads `99801e-4` as 9.9801).
    var numericText: String {
        Self.text(negative: isNegative, digits: String(significand), exponent: exponent)
    }

    /// The square's `numeric` text, exact: at most 34 digits.
    var squareNumericText: String {
        let (high, low) = significand.multipliedFullWidth(by: significand)
        let square = UInt128(high) << 64 | UInt128(low)
        return Self.text(negative: false, digits: String(square), exponent: 2 * exponent)
    }

    private static func text(negative: Bool, digits: String, exponent: Int) -> String {
        let signed = negative ? "-" + digits : digits
        return exponent == 0 || digits == "0" ? signed : signed + "e" + String(exponent)
    }
}

extension Decimal {
    /// Made once: these conversions run for every goal event with a value.
    private static let posix = Locale(identifier: "en_US_POSIX")

    /// The decimal a JSON number was written as: Swift prints a `Double` in its shortest
    /// round-trip form, so `9.99` becomes exactly 9.99 rather than 9.9900000000000002131...
    static func exact(_ value: Double) -> Decimal {
        Decimal(string: "\(value)", locale: posix) ?? Decimal(value)
    }

    /// Plain decimal text PostgreSQL's `numeric` input accepts.
    var numericText: String {
        // Half the goal events carry no value: skip Foundation's formatting for them.
        if isZero { return "0" }
        var copy = self
        return NSDecimalString(&copy, Self.posix)
    }
}

extension Int {
    /// Becomes `other` if `other` is smaller (for `dictionary[key, default: value].keepSmaller(value)`: one lookup).
    mutating func keepSmaller(_ other: Int) {
        if other < self { self = other }
    }
}
