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

    static func + (lhs: GoalTally, rhs: GoalTally) -> GoalTally {
        GoalTally(events: lhs.events + rhs.events, valueSum: lhs.valueSum + rhs.valueSum, valueSquares: lhs.valueSquares + rhs.valueSquares)
    }

    static func += (lhs: inout GoalTally, rhs: GoalTally) { lhs = lhs + rhs }

    /// One goal event, with its `metricValue` if it had one.
    static func event(value: Double?) -> GoalTally {
        guard let value else { return GoalTally(events: 1) }
        let decimal = Decimal.exact(value)
        return GoalTally(events: 1, valueSum: decimal, valueSquares: decimal * decimal)
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
