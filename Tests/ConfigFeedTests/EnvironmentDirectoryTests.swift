import ConfigFeed
import ModelsCore
import ServiceKit
import Testing

@Suite("Environment directory")
struct EnvironmentDirectoryTests {
    private func record(id: String = "e1", version: Int, sdk: [(String, Int?)] = [("sdk-a", nil)], mobile: String = "mob-a",
                        clientSideID: String = "0123456789abcdef01234567") -> ConfigRecord {
        let environment = EnvironmentRecord(
            id: id, key: "production", projectKey: "p", name: "Production",
            sdkKeys: sdk.map { .init(sha256: Credentials.hash($0.0), expiresAt: $0.1, secureModeKey: HMACKeyState(key: $0.0)) },
            mobileKeys: [.init(sha256: Credentials.hash(mobile))], clientSideID: clientSideID, secureMode: false)
        return ConfigRecord(kind: .environment, environmentID: id, key: "production", version: version, data: environment.jsonValue)
    }

    @Test("authenticates SDK keys, mobile keys and client-side ids by hash")
    func authenticate() {
        let directory = EnvironmentDirectory()
        directory.apply(record(version: 1))
        #expect(directory.authenticate(.sdkKey("sdk-a"), now: 0)?.id == "e1")
        #expect(directory.authenticate(.mobileKey("mob-a"), now: 0)?.id == "e1")
        #expect(directory.authenticate(.clientSideID("0123456789abcdef01234567"), now: 0)?.id == "e1")
        #expect(directory.authenticate(.sdkKey("mob-a"), now: 0) == nil, "a mobile key is not an SDK key")
        #expect(directory.authenticate(.sdkKey("sdk-b"), now: 0) == nil)
    }

    @Test("a rotated key works until its expiry; older or repeated records are ignored")
    func rotation() {
        let directory = EnvironmentDirectory()
        directory.apply(record(version: 1))
        directory.apply(record(version: 2, sdk: [("sdk-b", nil), ("sdk-a", 1_000)]))
        #expect(directory.authenticate(.sdkKey("sdk-a"), now: 999)?.id == "e1")
        #expect(directory.authenticate(.sdkKey("sdk-a"), now: 1_000) == nil)
        #expect(directory.authenticate(.sdkKey("sdk-b"), now: 5_000)?.id == "e1")
        directory.apply(record(version: 1))  // replayed older record
        #expect(directory.authenticate(.sdkKey("sdk-b"), now: 5_000)?.id == "e1")
        #expect(directory.secureModeKeys(environmentID: "e1", now: 999).count == 2)
        #expect(directory.secureModeKeys(environmentID: "e1", now: 1_000).count == 1)
    }

    @Test("a tombstone removes the environment and its credentials for good")
    func tombstone() {
        let directory = EnvironmentDirectory()
        directory.apply(record(version: 3))
        directory.apply(ConfigRecord(kind: .environment, environmentID: "e1", key: "production", version: 4, data: nil))
        #expect(directory.environment(id: "e1") == nil)
        #expect(directory.authenticate(.sdkKey("sdk-a"), now: 0) == nil)
        directory.apply(record(version: 3))
        #expect(directory.environment(id: "e1") == nil, "an older record does not resurrect it")
    }
}
