/// An environment's complete flag data: `{"flags":{...},"segments":{...}}`, the body of
/// `/sdk/latest-all` and the `data` of a streaming `put`.
public struct PollingPayload: Sendable, Hashable {
    public var flags: [String: FeatureFlag]
    public var segments: [String: Segment]

    public init(flags: [String: FeatureFlag] = [:], segments: [String: Segment] = [:]) {
        self.flags = flags
        self.segments = segments
    }

    /// Decodes a payload. An item without a `key` takes its map key, as the SDK test harness does.
    public init(json: JSONValue) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: "")
        flags = [:]
        segments = [:]
        if let flagsObject = try r.object("flags") {
            for (key, value) in flagsObject.properties {
                var flag = try FeatureFlag(json: value, path: "flags.\(key)")
                if flag.key.isEmpty { flag.key = key }
                flags[key] = flag
            }
        }
        if let segmentsObject = try r.object("segments") {
            for (key, value) in segmentsObject.properties {
                var segment = try Segment(json: value, path: "segments.\(key)")
                if segment.key.isEmpty { segment.key = key }
                segments[key] = segment
            }
        }
    }

    /// Writes `{"flags":{...},"segments":{...}}` with keys in byte order.
    public func write(to w: inout JSONWriter) {
        w.beginObject()
        w.key("flags"); w.beginObject()
        for key in flags.keys.sorted(by: utf8Less) {
            w.key(key)
            flags[key]!.write(to: &w)
        }
        w.endObject()
        w.key("segments"); w.beginObject()
        for key in segments.keys.sorted(by: utf8Less) {
            w.key(key)
            segments[key]!.write(to: &w)
        }
        w.endObject()
        w.endObject()
    }

    /// The payload's JSON bytes.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 4096)
        write(to: &w)
        return w.bytes
    }
}

/// Orders strings by their UTF-8 bytes (what Go and Python sort by), not by Swift's Unicode rules.
@inlinable public func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
