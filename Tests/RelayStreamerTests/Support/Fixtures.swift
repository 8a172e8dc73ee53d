import ModelsCore
import ServiceKit

/// Config records for tests, shaped as management-api publishes them.
enum Fixtures {
    static let environmentID = "env-1"
    static let clientSideID = "0123456789abcdef01234567"
    static let sdkKey = "sdk-test-key"
    static let mobileKey = "mob-test-key"

    /// An environment record with one SDK key (optionally expiring) and one mobile key.
    static func environment(
        id: String = environmentID, version: Int = 1, sdkKeys: [(String, Int?)] = [(sdkKey, nil)], mobileKey: String = mobileKey,
        clientSideID: String = clientSideID, secureMode: Bool = false
    ) -> ConfigRecord {
        let environment = EnvironmentRecord(
            id: id, key: "production", projectKey: "p", name: "Production",
            sdkKeys: sdkKeys.map { .init(sha256: Credentials.hash($0.0), expiresAt: $0.1, secureModeKey: HMACKeyState(key: $0.0)) },
            mobileKeys: [.init(sha256: Credentials.hash(mobileKey))], clientSideID: clientSideID, secureMode: secureMode)
        return ConfigRecord(kind: .environment, environmentID: id, key: "production", version: version, data: environment.jsonValue)
    }

    static func environmentTombstone(id: String = environmentID, version: Int) -> ConfigRecord {
        ConfigRecord(kind: .environment, environmentID: id, key: "production", version: version, data: nil)
    }

    /// A boolean flag record: on serves `fallthrough`, off serves variation 1 (false).
    static func flag(
        _ key: String, version: Int, on: Bool = true, environmentID: String = environmentID,
        availability: ClientSideAvailability = .init(usingMobileKey: true, usingEnvironmentID: true),
        configure: (inout FeatureFlag) -> Void = { _ in }
    ) -> ConfigRecord {
        var flag = FeatureFlag(
            key: key, version: version, on: on, variations: [true, false], offVariation: 1,
            fallthrough: VariationOrRollout(variation: 0), salt: "salt-\(key)", clientSideAvailability: availability)
        configure(&flag)
        return ConfigRecord(kind: .flag, environmentID: environmentID, key: key, version: version,
            data: try? JSONParser.parse(flag.jsonBytes))
    }

    static func flagTombstone(_ key: String, version: Int, environmentID: String = environmentID) -> ConfigRecord {
        ConfigRecord(kind: .flag, environmentID: environmentID, key: key, version: version, data: nil)
    }

    static func segment(_ key: String, version: Int, included: [String], environmentID: String = environmentID) -> ConfigRecord {
        let segment = Segment(key: key, version: version, included: included, salt: "salt-\(key)")
        return ConfigRecord(kind: .segment, environmentID: environmentID, key: key, version: version,
            data: try? JSONParser.parse(segment.jsonBytes))
    }
}
