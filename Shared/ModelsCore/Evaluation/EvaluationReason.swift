/// Why an evaluation produced its value, as LaunchDarkly reports it.
public struct EvaluationReason: Sendable, Hashable {
    /// The reason kinds.
    public enum Kind: String, Sendable, Hashable {
        case off = "OFF"
        case `fallthrough` = "FALLTHROUGH"
        case targetMatch = "TARGET_MATCH"
        case ruleMatch = "RULE_MATCH"
        case prerequisiteFailed = "PREREQUISITE_FAILED"
        case error = "ERROR"
    }

    /// Error kinds of an `ERROR` reason.
    public enum ErrorKind: String, Sendable, Hashable {
        case clientNotReady = "CLIENT_NOT_READY"
        case flagNotFound = "FLAG_NOT_FOUND"
        case malformedFlag = "MALFORMED_FLAG"
        case userNotSpecified = "USER_NOT_SPECIFIED"
        case wrongType = "WRONG_TYPE"
        case exception = "EXCEPTION"
    }

    /// Health of the big-segment store, reported when a big segment was consulted.
    public enum BigSegmentsStatus: String, Sendable, Hashable {
        case healthy = "HEALTHY"
        case stale = "STALE"
        case storeError = "STORE_ERROR"
        case notConfigured = "NOT_CONFIGURED"
    }

    // Stored properties are ordered, and the optional integer kept as a plain one, so that the
    // reason has no odd-offset fields: copies of a packed layout (a 9-byte `Int?` followed by
    // 1-byte enums) failed store-to-load forwarding on every evaluation, a tenth of its time.

    /// The rule id (`RULE_MATCH`) or the prerequisite key (`PREREQUISITE_FAILED`): one stored
    /// string, because reasons are copied on every evaluation.
    private var name: String?
    /// ``ruleIndex``, with `Int.min` for none.
    private var storedRuleIndex: Int
    public var kind: Kind
    /// True when the result came from an experiment's tracked bucket.
    public var inExperiment: Bool
    /// What went wrong (`ERROR`).
    public var errorKind: ErrorKind?
    public var bigSegmentsStatus: BigSegmentsStatus?

    /// Index of the matched rule (`RULE_MATCH`).
    public var ruleIndex: Int? {
        @inline(__always) get { storedRuleIndex == Int.min ? nil : storedRuleIndex }
        @inline(__always) set { storedRuleIndex = newValue ?? Int.min }
    }

    @inline(__always) init(
        kind: Kind, ruleIndex: Int? = nil, ruleID: String? = nil, inExperiment: Bool = false,
        prerequisiteKey: String? = nil, errorKind: ErrorKind? = nil
    ) {
        self.kind = kind
        self.storedRuleIndex = ruleIndex ?? Int.min
        self.inExperiment = inExperiment
        self.errorKind = errorKind
        self.bigSegmentsStatus = nil
        self.name = kind == .ruleMatch ? ruleID : kind == .prerequisiteFailed ? prerequisiteKey : nil
    }

    /// Id of the matched rule (`RULE_MATCH`); omitted from JSON when empty, as Go does.
    public var ruleID: String? {
        get { kind == .ruleMatch ? name : nil }
        set { if kind == .ruleMatch { name = newValue } }
    }

    /// Key of the direct prerequisite that failed (`PREREQUISITE_FAILED`).
    public var prerequisiteKey: String? {
        get { kind == .prerequisiteFailed ? name : nil }
        set { if kind == .prerequisiteFailed { name = newValue } }
    }

    /// `OFF`.
    @inline(__always) public static var off: EvaluationReason { EvaluationReason(kind: .off) }
    /// `TARGET_MATCH`.
    @inline(__always) public static var targetMatch: EvaluationReason { EvaluationReason(kind: .targetMatch) }

    /// `FALLTHROUGH`, marked `inExperiment` when applicable.
    @inline(__always) public static func `fallthrough`(inExperiment: Bool = false) -> EvaluationReason {
        EvaluationReason(kind: .fallthrough, inExperiment: inExperiment)
    }

    /// `RULE_MATCH` for the rule at `index`.
    @inline(__always) public static func ruleMatch(index: Int, id: String?, inExperiment: Bool = false) -> EvaluationReason {
        EvaluationReason(kind: .ruleMatch, ruleIndex: index, ruleID: id, inExperiment: inExperiment)
    }

    /// `PREREQUISITE_FAILED` naming the direct prerequisite.
    @inline(__always) public static func prerequisiteFailed(_ key: String) -> EvaluationReason {
        EvaluationReason(kind: .prerequisiteFailed, prerequisiteKey: key)
    }

    /// `ERROR` of the given kind.
    @inline(__always) public static func error(_ errorKind: ErrorKind) -> EvaluationReason {
        EvaluationReason(kind: .error, errorKind: errorKind)
    }

    /// Writes the reason with LaunchDarkly's Go property order: kind, ruleIndex, ruleId,
    /// inExperiment, prerequisiteKey, errorKind, bigSegmentsStatus.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("kind"); w.writeString(kind.rawValue)
        if kind == .ruleMatch {
            w.key("ruleIndex"); w.writeInt(ruleIndex ?? 0)
            if let ruleID, !ruleID.isEmpty { w.key("ruleId"); w.writeString(ruleID) }
        }
        if inExperiment { w.key("inExperiment"); w.writeBool(true) }
        if let prerequisiteKey { w.key("prerequisiteKey"); w.writeString(prerequisiteKey) }
        if let errorKind { w.key("errorKind"); w.writeString(errorKind.rawValue) }
        if let bigSegmentsStatus { w.key("bigSegmentsStatus"); w.writeString(bigSegmentsStatus.rawValue) }
        w.endObject()
    }

    /// The reason as a JSON value.
    public var jsonValue: JSONValue {
        var w = JSONWriter(capacity: 64)
        write(to: &w)
        // Only ever fails on a bug in `write`; the writer's output is valid JSON by construction.
        return (try? JSONParser.parse(w.bytes)) ?? .null
    }
}

/// The result of evaluating a flag for a context.
public struct EvaluationDetail: Sendable, Hashable {
    /// The served value; `.null` when no variation was chosen (the caller's default applies).
    public var value: JSONValue
    /// ``variationIndex``, with `Int.min` for none (a plain integer, for the layout reason given in
    /// ``EvaluationReason``).
    private var storedVariationIndex: Int
    public var reason: EvaluationReason

    /// Index of the served variation; nil means the caller's default applies.
    public var variationIndex: Int? {
        @inline(__always) get { storedVariationIndex == Int.min ? nil : storedVariationIndex }
        @inline(__always) set { storedVariationIndex = newValue ?? Int.min }
    }

    @inline(__always) public init(value: JSONValue, variationIndex: Int?, reason: consuming EvaluationReason) {
        self.value = value
        self.storedVariationIndex = variationIndex ?? Int.min
        self.reason = reason
    }

    /// An error result: no value, no variation.
    @inline(__always) public static func error(_ kind: EvaluationReason.ErrorKind) -> EvaluationDetail {
        EvaluationDetail(value: .null, variationIndex: nil, reason: .error(kind))
    }

    /// True when the caller's default value applies.
    public var isDefaultValue: Bool { variationIndex == nil }

    /// The value with the caller's default applied, and `WRONG_TYPE` if the served value does not
    /// have the default's JSON type (what a typed `boolVariation`/`stringVariation` call does).
    ///
    /// - Parameters:
    ///   - defaultValue: the caller's default.
    ///   - checkType: whether the caller asked for a specific type (`any` variations don't).
    public func applyingDefault(_ defaultValue: JSONValue, checkType: Bool) -> EvaluationDetail {
        guard variationIndex != nil else {
            return EvaluationDetail(value: defaultValue, variationIndex: nil, reason: reason)
        }
        if checkType, !defaultValue.isNull, !value.isNull, !Self.sameType(value, defaultValue) {
            return EvaluationDetail(value: defaultValue, variationIndex: nil, reason: .error(.wrongType))
        }
        return self
    }

    private static func sameType(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.bool, .bool), (.number, .number), (.string, .string), (.array, .array), (.object, .object): true
        default: false
        }
    }
}
