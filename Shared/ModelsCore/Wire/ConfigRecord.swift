/// A record of the compacted `vane.config` topic: the newest state of one environment, flag or
/// segment, as committed in management-api's database.
///
/// Key `<environmentId>/<kind>/<key>`, so compaction keeps the newest record per item; all records of
/// an environment go to one partition (``partition(environmentID:partitionCount:)``) so they stay in
/// order. Consumers keep, per item, the record with the highest `version` (a record can be published
/// twice after a crash, never out of order within a partition).
public struct ConfigRecord: Sendable, Hashable {
    /// What the record describes.
    public enum Kind: String, Sendable, Hashable {
        case environment
        case flag
        case segment
    }

    public var kind: Kind
    public var environmentID: String
    /// The environment, flag or segment key.
    public var key: String
    public var version: Int
    /// The item's JSON (an ``EnvironmentRecord``, or LaunchDarkly's flag or segment JSON); nil when
    /// the item was deleted.
    public var data: JSONValue?

    public init(kind: Kind, environmentID: String, key: String, version: Int, data: JSONValue?) {
        self.kind = kind
        self.environmentID = environmentID
        self.key = key
        self.version = version
        self.data = data
    }

    /// True for a tombstone (`"deleted": true`).
    public var isDeleted: Bool { data == nil }

    /// The Kafka record key, `<environmentId>/<kind>/<key>`.
    public var recordKey: String { "\(environmentID)/\(kind.rawValue)/\(key)" }

    /// Decodes a record value.
    public init(json: JSONValue) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: "")
        let kindName = try r.requiredString("kind")
        guard let kind = Kind(rawValue: kindName) else {
            throw ModelDecodingError(path: "kind", message: "unknown record kind \"\(kindName)\"")
        }
        self.kind = kind
        environmentID = try r.requiredString("environmentId")
        key = try r.requiredString("key")
        version = try r.requiredInt("version")
        if try r.bool("deleted") == true {
            data = nil
        } else {
            guard let data = r.value("data") else { throw ModelDecodingError(path: "data", message: "is required") }
            self.data = data
        }
    }

    /// The record value: `{"kind","environmentId","key","version","data"}` or `…"deleted":true}`.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 1024)
        w.beginObject()
        w.key("kind"); w.writeString(kind.rawValue)
        w.key("environmentId"); w.writeString(environmentID)
        w.key("key"); w.writeString(key)
        w.key("version"); w.writeInt(version)
        if let data {
            w.key("data"); w.writeValue(data)
        } else {
            w.key("deleted"); w.writeBool(true)
        }
        w.endObject()
        return w.bytes
    }

    /// The partition for an environment's records: Kafka's default (murmur2) hash of the
    /// environment id, so the Java tooling would choose the same one.
    public static func partition(environmentID: String, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0)
        let hash = Murmur2.hash(Array(environmentID.utf8)) & 0x7fff_ffff
        return Int32(Int(hash) % partitionCount)
    }
}

/// The `data` of an environment record: what relays and events-ingest need to route and
/// authenticate SDK traffic. Keys appear only as SHA-256 hashes (and, for secure mode, HMAC key
/// states); raw keys stay in management-api's database.
public struct EnvironmentRecord: Sendable, Hashable {
    /// A credential as the data plane sees it.
    public struct Credential: Sendable, Hashable {
        /// Lowercase hex SHA-256 of the key.
        public var sha256: String
        /// Unix milliseconds after which the key no longer works (a rotated key's grace period).
        public var expiresAt: Int?
        /// HMAC key states of an SDK key, for checking secure-mode hashes.
        public var secureModeKey: HMACKeyState?

        public init(sha256: String, expiresAt: Int? = nil, secureModeKey: HMACKeyState? = nil) {
            self.sha256 = sha256
            self.expiresAt = expiresAt
            self.secureModeKey = secureModeKey
        }

        /// True when the credential is still valid at `now` (Unix milliseconds).
        public func isValid(at now: Int) -> Bool { expiresAt.map { now < $0 } ?? true }
    }

    public var id: String
    public var key: String
    public var projectKey: String
    public var name: String
    public var sdkKeys: [Credential]
    public var mobileKeys: [Credential]
    public var clientSideID: String
    public var secureMode: Bool

    public init(
        id: String, key: String, projectKey: String, name: String, sdkKeys: [Credential], mobileKeys: [Credential],
        clientSideID: String, secureMode: Bool
    ) {
        self.id = id
        self.key = key
        self.projectKey = projectKey
        self.name = name
        self.sdkKeys = sdkKeys
        self.mobileKeys = mobileKeys
        self.clientSideID = clientSideID
        self.secureMode = secureMode
    }

    public init(json: JSONValue) throws(ModelDecodingError) {
        let r = try ObjectReader(json, path: "data")
        id = try r.requiredString("id")
        key = try r.requiredString("key")
        projectKey = try r.string("projectKey") ?? ""
        name = try r.string("name") ?? key
        sdkKeys = try r.objects("sdkKeys", Self.credential) ?? []
        mobileKeys = try r.objects("mobileKeys", Self.credential) ?? []
        clientSideID = try r.requiredString("clientSideId")
        secureMode = try r.bool("secureMode") ?? false
    }

    private static func credential(_ json: JSONValue, path: String) throws(ModelDecodingError) -> Credential {
        let r = try ObjectReader(json, path: path)
        var secureModeKey: HMACKeyState?
        if let states = try r.string("secureModeKey") {
            guard let parsed = HMACKeyState(hex: states) else {
                throw ModelDecodingError(path: r.childPath("secureModeKey"), message: "expected 128 hex digits")
            }
            secureModeKey = parsed
        }
        return Credential(sha256: try r.requiredString("sha256"), expiresAt: try r.int("expiresAt"), secureModeKey: secureModeKey)
    }

    public var jsonValue: JSONValue {
        func credentials(_ list: [Credential]) -> JSONValue {
            .array(list.map { credential in
                var object: [String: JSONValue] = ["sha256": .string(credential.sha256)]
                object["expiresAt"] = credential.expiresAt.map { .number(Double($0)) } ?? .null
                if let key = credential.secureModeKey { object["secureModeKey"] = .string(key.hex) }
                return .object(object)
            })
        }
        return [
            "id": .string(id), "key": .string(key), "projectKey": .string(projectKey), "name": .string(name),
            "sdkKeys": credentials(sdkKeys), "mobileKeys": credentials(mobileKeys),
            "clientSideId": .string(clientSideID), "secureMode": .bool(secureMode),
        ]
    }
}

/// Kafka's murmur2 (the Java client's default partitioner hash).
enum Murmur2 {
    static func hash(_ data: [UInt8]) -> UInt32 {
        let seed: UInt32 = 0x9747_b28c
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h = seed ^ UInt32(truncatingIfNeeded: data.count)
        let whole = data.count / 4
        for i in 0..<whole {
            let o = i * 4
            var k = UInt32(data[o]) | UInt32(data[o + 1]) << 8 | UInt32(data[o + 2]) << 16 | UInt32(data[o + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = whole * 4
        switch data.count % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }
}
