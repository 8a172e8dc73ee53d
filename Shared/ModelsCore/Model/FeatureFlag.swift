/// A feature flag in LaunchDarkly's server-side JSON shape (the objects in `put`, `patch` and
/// `/sdk/latest-all` payloads).
///
/// This is the wire model: it keeps what was sent, including values that evaluation will reject as
/// malformed (a variation index out of range, say), because the data plane must pass flags through
/// unchanged. Evaluation works on ``CompiledFlag``, built once from this.
public struct FeatureFlag: Sendable, Hashable {
    public var key: String
    public var version: Int
    public var on: Bool
    public var variations: [JSONValue]
    /// Index served when the flag is off or a prerequisite fails; nil serves the caller's default.
    public var offVariation: Int?
    /// The default rule; nil when absent, which makes a flag that reaches it malformed.
    public var `fallthrough`: VariationOrRollout?
    public var prerequisites: [Prerequisite]
    /// User-kind individual targets (the legacy list, still where LaunchDarkly keeps user keys).
    public var targets: [Target]
    /// Individual targets of any context kind.
    public var contextTargets: [Target]
    public var rules: [FlagRule]
    public var salt: String
    public var trackEvents: Bool
    public var trackEventsFallthrough: Bool
    /// Unix milliseconds until which debug events are sent.
    public var debugEventsUntilDate: Int?
    /// Which client-side SDKs may see the flag. When the JSON has no `clientSideAvailability`, it is
    /// inferred as LaunchDarkly's Go SDK does: mobile yes, browser from the legacy `clientSide`.
    public var clientSideAvailability: ClientSideAvailability
    public var samplingRatio: Int?
    public var excludeFromSummaries: Bool
    public var migration: MigrationSettings?
    public var deleted: Bool

    public init(
        key: String, version: Int = 1, on: Bool = false, variations: [JSONValue] = [], offVariation: Int? = nil,
        `fallthrough`: VariationOrRollout? = nil, prerequisites: [Prerequisite] = [], targets: [Target] = [],
        contextTargets: [Target] = [], rules: [FlagRule] = [], salt: String = "", trackEvents: Bool = false,
        trackEventsFallthrough: Bool = false, debugEventsUntilDate: Int? = nil,
        clientSideAvailability: ClientSideAvailability = .init(), samplingRatio: Int? = nil,
        excludeFromSummaries: Bool = false, migration: MigrationSettings? = nil, deleted: Bool = false
    ) {
        self.key = key
        self.version = version
        self.on = on
        self.variations = variations
        self.offVariation = offVariation
        self.fallthrough = `fallthrough`
        self.prerequisites = prerequisites
        self.targets = targets
        self.contextTargets = contextTargets
        self.rules = rules
        self.salt = salt
        self.trackEvents = trackEvents
        self.trackEventsFallthrough = trackEventsFallthrough
        self.debugEventsUntilDate = debugEventsUntilDate
        self.clientSideAvailability = clientSideAvailability
        self.samplingRatio = samplingRatio
        self.excludeFromSummaries = excludeFromSummaries
        self.migration = migration
        self.deleted = deleted
    }
}

/// `{key, variation}`: the prerequisite flag must be on and serve that variation.
public struct Prerequisite: Sendable, Hashable {
    public var key: String
    public var variation: Int
    public init(key: String, variation: Int) {
        self.key = key
        self.variation = variation
    }
}

/// Individual targeting: contexts of `contextKind` (default `user`) whose key is in `values` get
/// `variation`.
public struct Target: Sendable, Hashable {
    public var contextKind: String?
    public var values: [String]
    public var variation: Int
    public init(contextKind: String? = nil, values: [String], variation: Int) {
        self.contextKind = contextKind
        self.values = values
        self.variation = variation
    }
}

/// A targeting rule: when every clause matches, serve its variation or rollout.
public struct FlagRule: Sendable, Hashable {
    public var id: String?
    public var clauses: [Clause]
    public var variationOrRollout: VariationOrRollout
    public var trackEvents: Bool
    public init(id: String? = nil, clauses: [Clause], variationOrRollout: VariationOrRollout, trackEvents: Bool = false) {
        self.id = id
        self.clauses = clauses
        self.variationOrRollout = variationOrRollout
        self.trackEvents = trackEvents
    }
}

/// A condition on one context attribute.
public struct Clause: Sendable, Hashable {
    /// The context kind whose attribute is tested; nil means `user`, and also that `attribute` is a
    /// literal name rather than a `/path` reference.
    public var contextKind: String?
    public var attribute: String
    /// The operator name, kept as sent: an unknown operator is a non-match, not an error.
    public var op: String
    public var values: [JSONValue]
    public var negate: Bool
    public init(contextKind: String? = nil, attribute: String, op: String, values: [JSONValue], negate: Bool = false) {
        self.contextKind = contextKind
        self.attribute = attribute
        self.op = op
        self.values = values
        self.negate = negate
    }
}

/// A fixed variation, a percentage rollout, or (when both are absent) a malformed choice.
public struct VariationOrRollout: Sendable, Hashable {
    public var variation: Int?
    public var rollout: Rollout?
    public init(variation: Int? = nil, rollout: Rollout? = nil) {
        self.variation = variation
        self.rollout = rollout
    }
}

/// A percentage rollout or an experiment.
public struct Rollout: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case rollout
        case experiment
    }
    /// The kind as sent; anything other than `experiment` behaves as a plain rollout.
    public var kind: String?
    public var contextKind: String?
    public var bucketBy: String?
    public var seed: Int?
    public var variations: [WeightedVariation]
    public init(
        kind: String? = nil, contextKind: String? = nil, bucketBy: String? = nil, seed: Int? = nil,
        variations: [WeightedVariation]
    ) {
        self.kind = kind
        self.contextKind = contextKind
        self.bucketBy = bucketBy
        self.seed = seed
        self.variations = variations
    }

    /// True when this rollout is an experiment.
    public var isExperiment: Bool { kind == Kind.experiment.rawValue }
}

/// One bucket of a rollout; weights are out of 100000.
public struct WeightedVariation: Sendable, Hashable {
    public var variation: Int
    public var weight: Int
    public var untracked: Bool
    public init(variation: Int, weight: Int, untracked: Bool = false) {
        self.variation = variation
        self.weight = weight
        self.untracked = untracked
    }
}

/// Which client-side SDKs may evaluate a flag.
public struct ClientSideAvailability: Sendable, Hashable {
    public var usingMobileKey: Bool
    public var usingEnvironmentID: Bool
    public init(usingMobileKey: Bool = true, usingEnvironmentID: Bool = false) {
        self.usingMobileKey = usingMobileKey
        self.usingEnvironmentID = usingEnvironmentID
    }
}

/// Settings of a migration flag.
public struct MigrationSettings: Sendable, Hashable {
    public var checkRatio: Int?
    public init(checkRatio: Int? = nil) { self.checkRatio = checkRatio }
}

// MARK: - Decoding

extension FeatureFlag {
    /// Decodes a flag from LaunchDarkly's JSON.
    ///
    /// - Parameters:
    ///   - json: the flag object.
    ///   - path: where the object is, for error messages.
    public init(json: JSONValue, path: String = "") throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        key = try r.string("key") ?? ""
        version = try r.int("version") ?? 0
        on = try r.bool("on") ?? false
        variations = try r.array("variations") ?? []
        offVariation = try r.int("offVariation")
        self.fallthrough = try r.object("fallthrough").map { o throws(ModelDecodingError) in try VariationOrRollout(reader: o) }
        prerequisites = try r.objects("prerequisites") { v, p throws(ModelDecodingError) in
            let o = try ObjectReader(v, path: p)
            return Prerequisite(key: try o.requiredString("key"), variation: try o.requiredInt("variation"))
        } ?? []
        targets = try r.objects("targets", Target.init(json:path:)) ?? []
        contextTargets = try r.objects("contextTargets", Target.init(json:path:)) ?? []
        rules = try r.objects("rules", FlagRule.init(json:path:)) ?? []
        salt = try r.string("salt") ?? ""
        trackEvents = try r.bool("trackEvents") ?? false
        trackEventsFallthrough = try r.bool("trackEventsFallthrough") ?? false
        debugEventsUntilDate = try r.number("debugEventsUntilDate").map { Int(max(min($0, 9.0e18), -9.0e18)) }
        let legacyClientSide = try r.bool("clientSide") ?? false
        if let availability = try r.object("clientSideAvailability") {
            clientSideAvailability = ClientSideAvailability(
                usingMobileKey: try availability.bool("usingMobileKey") ?? false,
                usingEnvironmentID: try availability.bool("usingEnvironmentId") ?? false)
        } else {
            clientSideAvailability = ClientSideAvailability(usingMobileKey: true, usingEnvironmentID: legacyClientSide)
        }
        samplingRatio = try r.int("samplingRatio")
        excludeFromSummaries = try r.bool("excludeFromSummaries") ?? false
        migration = try r.object("migration").map { o throws(ModelDecodingError) in
            MigrationSettings(checkRatio: try o.int("checkRatio"))
        }
        deleted = try r.bool("deleted") ?? false
    }
}

extension Target {
    init(json: JSONValue, path: String) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        contextKind = try r.string("contextKind")
        values = try r.strings("values") ?? []
        variation = try r.requiredInt("variation")
    }
}

extension FlagRule {
    init(json: JSONValue, path: String) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        id = try r.string("id")
        clauses = try r.objects("clauses", Clause.init(json:path:)) ?? []
        variationOrRollout = try VariationOrRollout(reader: r)
        trackEvents = try r.bool("trackEvents") ?? false
    }
}

extension Clause {
    init(json: JSONValue, path: String) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        contextKind = try r.string("contextKind")
        attribute = try r.string("attribute") ?? ""
        op = try r.string("op") ?? ""
        values = try r.array("values") ?? []
        negate = try r.bool("negate") ?? false
    }
}

extension VariationOrRollout {
    init(reader r: ObjectReader) throws(ModelDecodingError) {
        variation = try r.int("variation")
        rollout = try r.object("rollout").map { o throws(ModelDecodingError) in try Rollout(reader: o) }
    }
}

extension Rollout {
    init(reader r: ObjectReader) throws(ModelDecodingError) {
        kind = try r.string("kind")
        contextKind = try r.string("contextKind")
        bucketBy = try r.string("bucketBy")
        seed = try r.int("seed")
        variations = try r.objects("variations") { v, p throws(ModelDecodingError) in
            let o = try ObjectReader(v, path: p)
            return WeightedVariation(
                variation: try o.requiredInt("variation"), weight: try o.requiredInt("weight"),
                untracked: try o.bool("untracked") ?? false)
        } ?? []
    }
}

// MARK: - Encoding

extension FeatureFlag {
    /// Writes the flag as LaunchDarkly's Go SDK does: every required array present, integers as
    /// integers, `offVariation` and `debugEventsUntilDate` as null when unset.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("key"); w.writeString(key)
        w.key("on"); w.writeBool(on)
        w.key("prerequisites"); w.beginArray()
        for p in prerequisites {
            w.beginObject()
            w.key("key"); w.writeString(p.key)
            w.key("variation"); w.writeInt(p.variation)
            w.endObject()
        }
        w.endArray()
        w.key("targets"); w.beginArray()
        for t in targets { t.write(to: &w) }
        w.endArray()
        w.key("contextTargets"); w.beginArray()
        for t in contextTargets { t.write(to: &w) }
        w.endArray()
        w.key("rules"); w.beginArray()
        for rule in rules { rule.write(to: &w) }
        w.endArray()
        w.key("fallthrough"); w.beginObject()
        self.fallthrough?.writeProperties(to: &w)
        w.endObject()
        w.key("offVariation")
        if let offVariation { w.writeInt(offVariation) } else { w.writeNull() }
        w.key("variations"); w.beginArray()
        for v in variations { w.writeValue(v) }
        w.endArray()
        w.key("clientSideAvailability"); w.beginObject()
        w.key("usingMobileKey"); w.writeBool(clientSideAvailability.usingMobileKey)
        w.key("usingEnvironmentId"); w.writeBool(clientSideAvailability.usingEnvironmentID)
        w.endObject()
        w.key("clientSide"); w.writeBool(clientSideAvailability.usingEnvironmentID)
        w.key("salt"); w.writeString(salt)
        w.key("trackEvents"); w.writeBool(trackEvents)
        w.key("trackEventsFallthrough"); w.writeBool(trackEventsFallthrough)
        w.key("debugEventsUntilDate")
        if let debugEventsUntilDate { w.writeInt(debugEventsUntilDate) } else { w.writeNull() }
        w.key("version"); w.writeInt(version)
        w.key("deleted"); w.writeBool(deleted)
        if let samplingRatio { w.key("samplingRatio"); w.writeInt(samplingRatio) }
        if excludeFromSummaries { w.key("excludeFromSummaries"); w.writeBool(true) }
        if let migration {
            w.key("migration"); w.beginObject()
            if let checkRatio = migration.checkRatio { w.key("checkRatio"); w.writeInt(checkRatio) }
            w.endObject()
        }
        w.endObject()
    }

    /// The flag's JSON bytes.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 512)
        write(to: &w)
        return w.bytes
    }
}

extension Target {
    func write(to w: inout JSONWriter) {
        w.beginObject()
        if let contextKind { w.key("contextKind"); w.writeString(contextKind) }
        w.key("values"); w.writeStrings(values)
        w.key("variation"); w.writeInt(variation)
        w.endObject()
    }
}

extension FlagRule {
    func write(to w: inout JSONWriter) {
        w.beginObject()
        if let id { w.key("id"); w.writeString(id) }
        variationOrRollout.writeProperties(to: &w)
        w.key("clauses"); w.beginArray()
        for clause in clauses { clause.write(to: &w) }
        w.endArray()
        w.key("trackEvents"); w.writeBool(trackEvents)
        w.endObject()
    }
}

extension Clause {
    func write(to w: inout JSONWriter) {
        w.beginObject()
        if let contextKind { w.key("contextKind"); w.writeString(contextKind) }
        w.key("attribute"); w.writeString(attribute)
        w.key("op"); w.writeString(op)
        w.key("values"); w.beginArray()
        for v in values { w.writeValue(v) }
        w.endArray()
        w.key("negate"); w.writeBool(negate)
        w.endObject()
    }
}

extension VariationOrRollout {
    func writeProperties(to w: inout JSONWriter) {
        if let variation { w.key("variation"); w.writeInt(variation) }
        if let rollout {
            w.key("rollout"); w.beginObject()
            w.key("variations"); w.beginArray()
            for wv in rollout.variations {
                w.beginObject()
                w.key("variation"); w.writeInt(wv.variation)
                w.key("weight"); w.writeInt(wv.weight)
                if wv.untracked { w.key("untracked"); w.writeBool(true) }
                w.endObject()
            }
            w.endArray()
            if let kind = rollout.kind { w.key("kind"); w.writeString(kind) }
            if let contextKind = rollout.contextKind { w.key("contextKind"); w.writeString(contextKind) }
            if let bucketBy = rollout.bucketBy { w.key("bucketBy"); w.writeString(bucketBy) }
            if let seed = rollout.seed { w.key("seed"); w.writeInt(seed) }
            w.endObject()
        }
    }
}
