/// A record of the `vane.events.raw` topic: one accepted SDK event batch, keyed by environment id.
/// The events are kept exactly as the SDK sent them; the processor interprets them.
public struct EventsRecord: Sendable, Hashable {
    /// Which kind of SDK sent the batch (which endpoint and credential type).
    public enum Source: String, Sendable, Hashable {
        case server
        case client
        case mobile
    }

    public var environmentID: String
    /// `X-LaunchDarkly-Payload-ID`, or an id generated on receipt; duplicates are the same batch.
    public var payloadID: String
    /// Unix milliseconds when events-ingest accepted the batch.
    public var receivedAt: Int
    public var source: Source
    public var userAgent: String
    public var events: [JSONValue]

    public init(environmentID: String, payloadID: String, receivedAt: Int, source: Source, userAgent: String, events: [JSONValue]) {
        self.environmentID = environmentID
        self.payloadID = payloadID
        self.receivedAt = receivedAt
        self.source = source
        self.userAgent = userAgent
        self.events = events
    }

    public init(json: JSONValue) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: "")
        environmentID = try r.requiredString("environmentId")
        payloadID = try r.requiredString("payloadId")
        receivedAt = try r.requiredInt("receivedAt")
        let sourceName = try r.requiredString("source")
        guard let source = Source(rawValue: sourceName) else {
            throw ModelDecodingError(path: "source", message: "unknown source \"\(sourceName)\"")
        }
        self.source = source
        userAgent = try r.string("userAgent") ?? ""
        events = try r.array("events") ?? []
    }

    /// The record value. `rawEvents` must be the batch's JSON array exactly as received (already
    /// validated); it is embedded without re-serializing.
    public static func encode(
        environmentID: String, payloadID: String, receivedAt: Int, source: Source, userAgent: String,
        rawEvents: some Collection<UInt8>
    ) -> [UInt8] {
        var w = JSONWriter(capacity: rawEvents.count + 256)
        w.beginObject()
        w.key("environmentId"); w.writeString(environmentID)
        w.key("payloadId"); w.writeString(payloadID)
        w.key("receivedAt"); w.writeInt(receivedAt)
        w.key("source"); w.writeString(source.rawValue)
        w.key("userAgent"); w.writeString(userAgent)
        w.key("events"); w.writeRaw(rawEvents)
        w.endObject()
        return w.bytes
    }
}
