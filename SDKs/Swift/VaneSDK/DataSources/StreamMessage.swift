import ModelsCore

/// A LaunchDarkly server-side stream event, decoded: `put` (everything), `patch` (one flag or
/// segment) or `delete` (a tombstone version).
enum StreamMessage: Sendable, Equatable {
    case put(PollingPayload)
    case patchFlag(FeatureFlag)
    case patchSegment(Segment)
    case deleteFlag(key: String, version: Int)
    case deleteSegment(key: String, version: Int)

    /// Malformed data: the stream is dropped and reconnected, as LaunchDarkly's SDKs do.
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// Decodes `event`; nil for events and paths the SDK ignores (`ping`, heartbeats, unknown kinds).
    static func decode(_ event: SSEParser.Event) throws(Malformed) -> StreamMessage? {
        guard ["put", "patch", "delete"].contains(event.name) else { return nil }
        let json: JSONValue
        do {
            json = try JSONParser.parse(event.data)
        } catch {
            throw Malformed(description: "\(event.name) is not JSON: \(error)")
        }
        guard case .object(let body) = json else { throw Malformed(description: "\(event.name) data is not an object") }
        do {
            switch event.name {
            case "put":
                guard let data = body["data"], case .object(let object) = data else {
                    throw Malformed(description: "put without a data object")
                }
                guard object["flags"] != nil, object["segments"] != nil else {
                    throw Malformed(description: "put data must have flags and segments")
                }
                return .put(try PollingPayload(json: data))
            case "patch":
                guard let path = body["path"]?.stringValue, let data = body["data"] else {
                    throw Malformed(description: "patch without path or data")
                }
                if path.hasPrefix("/flags/") {
                    var flag = try FeatureFlag(json: data, path: "data")
                    if flag.key.isEmpty { flag.key = String(path.dropFirst("/flags/".count)) }
                    return .patchFlag(flag)
                }
                if path.hasPrefix("/segments/") {
                    var segment = try Segment(json: data, path: "data")
                    if segment.key.isEmpty { segment.key = String(path.dropFirst("/segments/".count)) }
                    return .patchSegment(segment)
                }
                return nil
            default:
                guard let path = body["path"]?.stringValue, let versionNumber = body["version"]?.numberValue,
                    let version = JSONValue.exactInteger(versionNumber)
                else {
                    throw Malformed(description: "delete without path or integer version")
                }
                if path.hasPrefix("/flags/") { return .deleteFlag(key: String(path.dropFirst("/flags/".count)), version: version) }
                if path.hasPrefix("/segments/") {
                    return .deleteSegment(key: String(path.dropFirst("/segments/".count)), version: version)
                }
                return nil
            }
        } catch let error as Malformed {
            throw error
        } catch {
            throw Malformed(description: "\(event.name): \(error)")
        }
    }

    /// Applies the message to `store`.
    func apply(to store: FlagStore) {
        switch self {
        case .put(let payload): store.replaceAll(payload)
        case .patchFlag(let flag): store.upsert(flag)
        case .patchSegment(let segment): store.upsert(segment)
        case .deleteFlag(let key, let version): store.delete(flag: key, version: version)
        case .deleteSegment(let key, let version): store.delete(segment: key, version: version)
        }
    }
}
