/// A server-sent-events parser (the WHATWG rules LaunchDarkly's SDKs follow): `\n`, `\r` or `\r\n`
/// line ends; `field: value` with one optional space after the colon; comment lines start with
/// `:`; `data` lines are joined with `\n`; an event is dispatched at a blank line when it has data,
/// named `message` unless an `event` field names it. Bytes in, events out: no I/O, so it is tested
/// with any chunking.
public struct SSEParser: Sendable {
    /// One dispatched event.
    public struct Event: Sendable, Hashable {
        public var name: String
        public var data: String
        /// The last `id` seen (sent back as `Last-Event-ID` on reconnect).
        public var lastEventID: String?

        public init(name: String, data: String, lastEventID: String? = nil) {
            self.name = name
            self.data = data
            self.lastEventID = lastEventID
        }
    }

    /// Longest line accepted; a longer one means a broken stream (the caller reconnects).
    public static let maximumLineBytes = 64 << 20

    /// The line exceeded ``maximumLineBytes``.
    public struct LineTooLong: Error, Sendable {}

    private var line: [UInt8] = []
    private var afterCR = false
    private var eventName = ""
    private var dataLines: [String] = []
    private var hasData = false
    /// The last `id` field seen.
    public private(set) var lastEventID: String?
    /// Comment lines seen (heartbeats).
    public private(set) var comments = 0

    public init() {}

    /// Feeds bytes; returns the events completed by them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(LineTooLong) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < Self.maximumLineBytes else { throw LineTooLong() }
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer {
                eventName = ""
                dataLines = []
                hasData = false
            }
            guard hasData else { return nil }
            return Event(name: eventName.isEmpty ? "message" : eventName, data: dataLines.joined(separator: "\n"), lastEventID: lastEventID)
        }
        if line[0] == UInt8(ascii: ":") {
            comments += 1
            return nil
        }
        let field: String
        let value: String
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = colon + 1
            if start < line.count, line[start] == UInt8(ascii: " ") { start += 1 }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event": eventName = value
        case "data":
            dataLines.append(value)
            hasData = true
        case "id": if !value.contains("\0") { lastEventID = value }
        default: break  // `retry` and unknown fields: ignored (the SDK owns its backoff).
        }
        return nil
    }
}
