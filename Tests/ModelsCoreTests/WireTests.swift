@testable import ModelsCore
import Testing

@Suite("Wire records and hashing")
struct WireTests {
    @Test("SHA-256 matches the FIPS 180 vectors")
    func sha256() {
        #expect(SHA256.hexHash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexHash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("HMAC-SHA256 from precomputed key states matches RFC 4231, keys short and long")
    func hmac() {
        let key1 = HMACKeyState(key: [UInt8](repeating: 0x0b, count: 20))
        #expect(SHA256.hex(key1.authenticationCode(Array("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let key2 = HMACKeyState(key: "Jefe")
        #expect(key2.hexAuthenticationCode("what do ya want for nothing?")
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let long = HMACKeyState(key: [UInt8](repeating: 0xaa, count: 131))
        #expect(long.hexAuthenticationCode("Test Using Larger Than Block-Size Key - Hash Key First")
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        #expect(HMACKeyState(hex: key2.hex) == key2, "states survive the environment record")
    }

    @Test("secure-mode hashes match LaunchDarkly's vectors")
    func secureMode() {
        let key = HMACKeyState(key: "sdk-key-123")
        #expect(key.hexAuthenticationCode(EvaluationContext.user("alice").fullyQualifiedKey)
            == "4ce43678e0478ffe83967db5bcf1e3e569c5516d4d64b5c232e6a57b5e7fbdd8")
        #expect(key.hexAuthenticationCode(context(#"{"kind":"org","key":"acme"}"#).fullyQualifiedKey)
            == "d4dcaf2ad7181e88a9280e293c1e63248bef1b3bd8341032f6e16d916e5cc3d0")
    }

    @Test("murmur2 matches Kafka's partitioner", arguments: [
        ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ])
    func murmur2(text: String, expected: Int32) {
        #expect(Int32(bitPattern: Murmur2.hash(Array(text.utf8))) == expected)
    }

    @Test("config records round-trip, tombstones included, and one environment maps to one partition")
    func configRecords() throws {
        let flag = ConfigRecord(kind: .flag, environmentID: "env-1", key: "f", version: 3, data: ["key": "f", "version": 3])
        #expect(flag.recordKey == "env-1/flag/f")
        #expect(try ConfigRecord(json: JSONParser.parse(flag.jsonBytes)) == flag)
        let gone = ConfigRecord(kind: .segment, environmentID: "env-1", key: "s", version: 4, data: nil)
        #expect(String(decoding: gone.jsonBytes, as: UTF8.self).contains(#""deleted":true"#))
        #expect(try ConfigRecord(json: JSONParser.parse(gone.jsonBytes)).isDeleted)
        let p = ConfigRecord.partition(environmentID: "env-1", partitionCount: 12)
        #expect((0..<12).contains(p))
        #expect(ConfigRecord.partition(environmentID: "env-1", partitionCount: 12) == p)
    }

    @Test("environment records carry hashes and HMAC states, never keys")
    func environmentRecords() throws {
        let record = EnvironmentRecord(
            id: "e1", key: "production", projectKey: "p", name: "Production",
            sdkKeys: [.init(sha256: SHA256.hexHash("sdk-abc"), expiresAt: 1_700_000_000_000, secureModeKey: HMACKeyState(key: "sdk-abc"))],
            mobileKeys: [.init(sha256: SHA256.hexHash("mob-abc"))], clientSideID: "0123456789abcdef01234567", secureMode: true)
        let text = JSONWriter.string(record.jsonValue)
        #expect(!text.contains("sdk-abc") && !text.contains("mob-abc"))
        #expect(try EnvironmentRecord(json: record.jsonValue) == record)
        #expect(record.sdkKeys[0].isValid(at: 1_699_999_999_999))
        #expect(!record.sdkKeys[0].isValid(at: 1_700_000_000_000))
    }

    @Test("events records embed the raw batch and decode back")
    func eventsRecords() throws {
        let raw = Array(#"[{"kind":"custom","key":"k","x":1.50}]"#.utf8)
        let bytes = EventsRecord.encode(environmentID: "e", payloadID: "p", receivedAt: 5, source: .mobile, userAgent: "ua", rawEvents: raw)
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix(#""events":[{"kind":"custom","key":"k","x":1.50}]}"#))
        let record = try EventsRecord(json: JSONParser.parse(bytes))
        #expect(record.source == .mobile)
        #expect(record.events.count == 1)
    }
}
