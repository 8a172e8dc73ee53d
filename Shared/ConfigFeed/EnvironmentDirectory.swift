import ModelsCore
import ServiceKit
import Synchronization

/// The environments of `vane.config` and an index from credentials to them: how the data plane
/// authenticates SDK traffic without a database. Keys are compared by SHA-256, as the records carry.
public final class EnvironmentDirectory: ConfigRecordSink, Sendable {
    /// The credential an SDK presented.
    public enum Credential: Sendable, Hashable {
        case sdkKey(String)
        case mobileKey(String)
        case clientSideID(String)
    }

    private struct State {
        var environments: [String: EnvironmentRecord] = [:]
        var versions: [String: Int] = [:]
        var sdkKeys: [String: String] = [:]
        var mobileKeys: [String: String] = [:]
        var clientSideIDs: [String: String] = [:]

        mutating func index(_ environment: EnvironmentRecord) {
            for key in environment.sdkKeys { sdkKeys[key.sha256] = environment.id }
            for key in environment.mobileKeys { mobileKeys[key.sha256] = environment.id }
            clientSideIDs[environment.clientSideID] = environment.id
        }

        mutating func unindex(_ environment: EnvironmentRecord) {
            for key in environment.sdkKeys where sdkKeys[key.sha256] == environment.id { sdkKeys[key.sha256] = nil }
            for key in environment.mobileKeys where mobileKeys[key.sha256] == environment.id { mobileKeys[key.sha256] = nil }
            if clientSideIDs[environment.clientSideID] == environment.id { clientSideIDs[environment.clientSideID] = nil }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Applies environment records (others are ignored): newer versions replace, tombstones remove,
    /// and anything not newer than what is held is ignored.
    public func apply(_ record: ConfigRecord) {
        guard record.kind == .environment else { return }
        let id = record.environmentID
        let parsed = record.data.flatMap { try? EnvironmentRecord(json: $0) }
        state.withLock { state in
            if let held = state.versions[id], held >= record.version { return }
            state.versions[id] = record.version
            if let old = state.environments.removeValue(forKey: id) { state.unindex(old) }
            if let parsed {
                state.environments[id] = parsed
                state.index(parsed)
            }
        }
    }

    /// The environment with `id`, if known.
    public func environment(id: String) -> EnvironmentRecord? {
        state.withLock { $0.environments[id] }
    }

    /// Every environment id currently known.
    public var environmentIDs: [String] { state.withLock { Array($0.environments.keys) } }

    /// The environment a credential belongs to, if it is known and (for a rotated key) not expired
    /// at `now` (Unix milliseconds).
    public func authenticate(_ credential: Credential, now: Int) -> EnvironmentRecord? {
        state.withLock { state in
            switch credential {
            case .sdkKey(let key):
                let hash = Credentials.hash(key)
                guard let id = state.sdkKeys[hash], let environment = state.environments[id],
                    environment.sdkKeys.first(where: { $0.sha256 == hash })?.isValid(at: now) == true
                else { return nil }
                return environment
            case .mobileKey(let key):
                let hash = Credentials.hash(key)
                guard let id = state.mobileKeys[hash], let environment = state.environments[id],
                    environment.mobileKeys.first(where: { $0.sha256 == hash })?.isValid(at: now) == true
                else { return nil }
                return environment
            case .clientSideID(let id):
                return state.clientSideIDs[id].flatMap { state.environments[$0] }
            }
        }
    }

    /// The SDK-key HMAC states valid at `now`, for checking secure-mode hashes of an environment.
    public func secureModeKeys(environmentID: String, now: Int) -> [HMACKeyState] {
        state.withLock { state in
            state.environments[environmentID]?.sdkKeys.filter { $0.isValid(at: now) }.compactMap(\.secureModeKey) ?? []
        }
    }
}
