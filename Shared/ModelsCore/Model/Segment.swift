/// A segment (a reusable audience) in LaunchDarkly's server-side JSON shape.
public struct Segment: Sendable, Hashable {
    public var key: String
    public var version: Int
    /// User-kind keys that are always members.
    public var included: [String]
    /// User-kind keys that are never members (checked after the includes).
    public var excluded: [String]
    public var includedContexts: [SegmentTarget]
    public var excludedContexts: [SegmentTarget]
    public var rules: [SegmentRule]
    public var salt: String
    /// A "big segment": membership lives in an external store that Vane does not have, so only its
    /// rules can match (and evaluations that consult it report `bigSegmentsStatus: NOT_CONFIGURED`).
    public var unbounded: Bool
    public var unboundedContextKind: String?
    public var generation: Int?
    public var deleted: Bool

    public init(
        key: String, version: Int = 1, included: [String] = [], excluded: [String] = [],
        includedContexts: [SegmentTarget] = [], excludedContexts: [SegmentTarget] = [], rules: [SegmentRule] = [],
        salt: String = "", unbounded: Bool = false, unboundedContextKind: String? = nil, generation: Int? = nil,
        deleted: Bool = false
    ) {
        self.key = key
        self.version = version
        self.included = included
        self.excluded = excluded
        self.includedContexts = includedContexts
        self.excludedContexts = excludedContexts
        self.rules = rules
        self.salt = salt
        self.unbounded = unbounded
        self.unboundedContextKind = unboundedContextKind
        self.generation = generation
        self.deleted = deleted
    }
}

/// Keys of one context kind that a segment includes or excludes.
public struct SegmentTarget: Sendable, Hashable {
    public var contextKind: String?
    public var values: [String]
    public init(contextKind: String? = nil, values: [String]) {
        self.contextKind = contextKind
        self.values = values
    }
}

/// A segment rule: contexts matching every clause are members, optionally only a weighted share.
public struct SegmentRule: Sendable, Hashable {
    public var id: String?
    public var clauses: [Clause]
    /// Share of matching contexts that are members, out of 100000; nil means all.
    public var weight: Int?
    public var bucketBy: String?
    public var rolloutContextKind: String?
    public init(
        id: String? = nil, clauses: [Clause], weight: Int? = nil, bucketBy: String? = nil,
        rolloutContextKind: String? = nil
    ) {
        self.id = id
        self.clauses = clauses
        self.weight = weight
        self.bucketBy = bucketBy
        self.rolloutContextKind = rolloutContextKind
    }
}

extension Segment {
    /// Decodes a segment from LaunchDarkly's JSON.
    public init(json: JSONValue, path: String = "") throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        key = try r.string("key") ?? ""
        version = try r.int("version") ?? 0
        included = try r.strings("included") ?? []
        excluded = try r.strings("excluded") ?? []
        includedContexts = try r.objects("includedContexts", SegmentTarget.init(json:path:)) ?? []
        excludedContexts = try r.objects("excludedContexts", SegmentTarget.init(json:path:)) ?? []
        rules = try r.objects("rules") { v, p throws(ModelDecodingError) in
            let o = try ObjectReader(v, path: p)
            return SegmentRule(
                id: try o.string("id"), clauses: try o.objects("clauses", Clause.init(json:path:)) ?? [],
                weight: try o.int("weight"), bucketBy: try o.string("bucketBy"),
                rolloutContextKind: try o.string("rolloutContextKind"))
        } ?? []
        salt = try r.string("salt") ?? ""
        unbounded = try r.bool("unbounded") ?? false
        unboundedContextKind = try r.string("unboundedContextKind")
        generation = try r.int("generation")
        deleted = try r.bool("deleted") ?? false
    }

    /// Writes the segment as LaunchDarkly's Go SDK does.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("key"); w.writeString(key)
        w.key("included"); w.writeStrings(included)
        w.key("excluded"); w.writeStrings(excluded)
        w.key("includedContexts"); w.beginArray()
        for t in includedContexts { t.write(to: &w) }
        w.endArray()
        w.key("excludedContexts"); w.beginArray()
        for t in excludedContexts { t.write(to: &w) }
        w.endArray()
        w.key("salt"); w.writeString(salt)
        w.key("rules"); w.beginArray()
        for rule in rules {
            w.beginObject()
            if let id = rule.id { w.key("id"); w.writeString(id) }
            w.key("clauses"); w.beginArray()
            for clause in rule.clauses { clause.write(to: &w) }
            w.endArray()
            if let weight = rule.weight { w.key("weight"); w.writeInt(weight) }
            if let bucketBy = rule.bucketBy { w.key("bucketBy"); w.writeString(bucketBy) }
            if let kind = rule.rolloutContextKind { w.key("rolloutContextKind"); w.writeString(kind) }
            w.endObject()
        }
        w.endArray()
        w.key("version"); w.writeInt(version)
        w.key("generation")
        if let generation { w.writeInt(generation) } else { w.writeNull() }
        w.key("deleted"); w.writeBool(deleted)
        if unbounded { w.key("unbounded"); w.writeBool(true) }
        if let unboundedContextKind { w.key("unboundedContextKind"); w.writeString(unboundedContextKind) }
        w.endObject()
    }

    /// The segment's JSON bytes.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 256)
        write(to: &w)
        return w.bytes
    }
}

extension SegmentTarget {
    init(json: JSONValue, path: String) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: path)
        contextKind = try r.string("contextKind")
        values = try r.strings("values") ?? []
    }

    func write(to w: inout JSONWriter) {
        w.beginObject()
        if let contextKind { w.key("contextKind"); w.writeString(contextKind) }
        w.key("values"); w.writeStrings(values)
        w.endObject()
    }
}
