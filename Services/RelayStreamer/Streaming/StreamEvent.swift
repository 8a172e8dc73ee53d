import ModelsCore

/// What kind of SDK a stream serves, which decides what it receives.
enum StreamKind: UInt8, Sendable, CaseIterable {
    /// A server-side SDK on `/all`: the full `put`, then `patch` and `delete` events.
    case server
    /// A browser SDK on `/eval/{clientSideId}/…` or `/ping/…`: `ping` events (fetch again).
    case clientSide
    /// A mobile SDK on `/meval/…` or `/mping`: `ping` events.
    case mobile

    /// The metric label.
    var label: String {
        switch self {
        case .server: "server"
        case .clientSide: "client"
        case .mobile: "mobile"
        }
    }
}

/// One change, encoded once for every stream of its environment.
struct StreamEvent: Sendable {
    let environmentID: String
    /// The environment's data revision after the change; a stream whose `put` already reflects
    /// this revision skips the event.
    let revision: Int
    /// `patch` or `delete` for server-side streams (client-side streams get ``SSEFrame/ping``).
    let serverFrame: SSEFrame

    init(_ change: ConfigChange) {
        environmentID = change.environmentID
        revision = change.revision
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        let name: String
        switch change.item {
        case .flag(let flag):
            name = "patch"
            writer.key("path"); writer.writeString("/flags/\(flag.key)")
            writer.key("data"); flag.write(to: &writer)
        case .segment(let segment):
            name = "patch"
            writer.key("path"); writer.writeString("/segments/\(segment.key)")
            writer.key("data"); segment.write(to: &writer)
        case .deletedFlag(let key, let version):
            name = "delete"
            writer.key("path"); writer.writeString("/flags/\(key)")
            writer.key("version"); writer.writeInt(version)
        case .deletedSegment(let key, let version):
            name = "delete"
            writer.key("path"); writer.writeString("/segments/\(key)")
            writer.key("version"); writer.writeInt(version)
        }
        writer.endObject()
        serverFrame = SSEFrame.event(name, data: writer.bytes)
    }
}
