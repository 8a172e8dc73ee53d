import CVaneHash
@testable import ModelsCore
import Testing

@Suite("Bucketing")
struct BucketingTests {
    private func sha1Hex(_ text: String, portable: Bool = false) -> String {
        let bytes = Array(text.utf8)
        var digest = [UInt32](repeating: 0, count: 5)
        bytes.withUnsafeBufferPointer { a in
            if portable {
                vane_sha1_concat_portable(a.baseAddress, a.count, nil, 0, &digest)
            } else {
                vane_sha1_concat(a.baseAddress, a.count, nil, 0, &digest)
            }
        }
        return digest.map { word in String(repeating: "0", count: 8 - String(word, radix: 16).count) + String(word, radix: 16) }
            .joined()
    }

    @Test("SHA-1 matches the FIPS 180 test vectors, across block boundaries, on both code paths", arguments: [false, true])
    func sha1Vectors(portable: Bool) {
        #expect(sha1Hex("", portable: portable) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(sha1Hex("abc", portable: portable) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", portable: portable)
            == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(sha1Hex(String(repeating: "a", count: 1000), portable: portable) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test("the SHA extension and portable paths agree for every length up to four blocks")
    func sha1PathsAgree() {
        var text = ""
        for length in 0...260 {
            #expect(sha1Hex(text) == sha1Hex(text, portable: true), "length \(length)")
            text.append(Character(UnicodeScalar(UInt8(33 + length % 90))))
        }
    }

    @Test("bucket values match LaunchDarkly's test vectors", arguments: [
        ("hashKey.saltyA.", "userKeyA", 0.42157587),
        ("hashKey.saltyA.", "userKeyB", 0.67084850),
        ("hashKey.saltyA.", "userKeyC", 0.10343106),
        ("61.", "userKeyA", 0.09801207),
        ("61.", "userKeyB", 0.14483777),
        ("61.", "userKeyC", 0.92426409),
        ("hashKey.saltyA.", "33333", 0.54771423),
        ("hashKey.saltyA.", "99999", 0.73096580),
        ("segment3.salty.", "user-key", 0.14950212),
        ("segment3.salty.", "unmatching-key", 0.36563563),
    ])
    func vectors(prefix: String, value: String, expected: Double) {
        let bucket = Bucketing.bucket(prefix: Array(prefix.utf8), value: value)
        #expect(abs(bucket - expected) < 1e-8)
    }

    private let rolloutFlag = #"""
        {"key":"hashKey","salt":"saltyA","on":true,"variations":["a","b","c"],
         "fallthrough":{"rollout":{"variations":[{"variation":0,"weight":60000},{"variation":1,"weight":40000}]}}}
        """#

    @Test("multiplying by the inverse scale is dividing by LaunchDarkly's 0xFFFFFFFFFFFFFFF, bit for bit")
    func inverseScale() {
        #expect(Bucketing.scale == 0x1p60 && Bucketing.inverseScale * Bucketing.scale == 1)
        var generator = SystemRandomNumberGenerator()
        let edges: [UInt64] = [0, 1, 0xFFF_FFFF_FFFF_FFFF, 0x7FF_FFFF_FFFF_FFFF, 1 << 53, (1 << 53) + 1]
        for bits in edges + (0..<100_000).map({ _ in UInt64.random(in: 0...0xFFF_FFFF_FFFF_FFFF, using: &generator) }) {
            #expect((Double(bits) * Bucketing.inverseScale).bitPattern == (Double(bits) / Bucketing.scale).bitPattern, "\(bits)")
        }
    }

    @Test("rollouts pick the bucket the hash falls into")
    func rollout() {
        let data = evaluationData(flags: [rolloutFlag])
        #expect(data.evaluate(flagKey: "hashKey", context: .user("userKeyA")).variationIndex == 0)  // 0.42
        #expect(data.evaluate(flagKey: "hashKey", context: .user("userKeyB")).variationIndex == 1)  // 0.67
        #expect(data.evaluate(flagKey: "hashKey", context: .user("userKeyC")).variationIndex == 0)  // 0.10
    }

    @Test("bucketBy an integer attribute hashes its decimal form, also when sent as 33333.0")
    func bucketByInteger() {
        let flag = rolloutFlag.replacingOccurrences(of: #""variations":[{"#, with: #""bucketBy":"n","variations":[{"#)
        let data = evaluationData(flags: [flag])
        for value in ["33333", "33333.0"] {
            let detail = data.evaluate(flagKey: "hashKey", context: context(#"{"kind":"user","key":"k","n":\#(value)}"#))
            #expect(detail.variationIndex == 0)  // 0.5477 < 0.6
        }
        let high = data.evaluate(flagKey: "hashKey", context: context(#"{"kind":"user","key":"k","n":99999}"#))
        #expect(high.variationIndex == 1)  // 0.7310
        // Booleans, fractions and missing attributes bucket at 0: the first bucket.
        for value in ["true", "1.5", #"[1]"#] {
            let detail = data.evaluate(flagKey: "hashKey", context: context(#"{"kind":"user","key":"userKeyB","n":\#(value)}"#))
            #expect(detail.variationIndex == 0)
        }
    }

    @Test("weights short of 100000 put the remainder in the last bucket")
    func shortWeights() {
        let flag = #"""
            {"key":"hashKey","salt":"saltyA","on":true,"variations":["a","b"],
             "fallthrough":{"rollout":{"variations":[{"variation":0,"weight":10000},{"variation":1,"weight":0}]}}}
            """#
        let data = evaluationData(flags: [flag])
        #expect(data.evaluate(flagKey: "hashKey", context: .user("userKeyA")).variationIndex == 1)
        #expect(data.evaluate(flagKey: "hashKey", context: .user("userKeyC")).variationIndex == 1)  // 0.1034 > 0.1
    }

    @Test("experiments use the seed, ignore bucketBy, and mark tracked buckets inExperiment")
    func experiment() {
        let flag = #"""
            {"key":"hashKey","salt":"saltyA","on":true,"variations":["a","b"],
             "fallthrough":{"rollout":{"kind":"experiment","seed":61,"bucketBy":"ignored",
               "variations":[{"variation":0,"weight":10000},{"variation":1,"weight":90000,"untracked":true}]}}}
            """#
        let data = evaluationData(flags: [flag])
        let a = data.evaluate(flagKey: "hashKey", context: .user("userKeyA"))  // 0.098 → tracked bucket 0
        #expect(a.variationIndex == 0)
        #expect(a.reason == .fallthrough(inExperiment: true))
        let b = data.evaluate(flagKey: "hashKey", context: .user("userKeyB"))  // 0.145 → untracked bucket 1
        #expect(b.variationIndex == 1)
        #expect(b.reason == .fallthrough(inExperiment: false))
    }

    @Test("a rollout for a context kind the context lacks uses bucket 0 and is never in the experiment")
    func missingKind() {
        let flag = #"""
            {"key":"f","on":true,"variations":["a","b"],
             "fallthrough":{"rollout":{"kind":"experiment","contextKind":"org",
               "variations":[{"variation":0,"weight":0},{"variation":1,"weight":100000}]}}}
            """#
        let detail = evaluationData(flags: [flag]).evaluate(flagKey: "f", context: .user("u"))
        #expect(detail.variationIndex == 1)  // bucket 0 is not < 0, so the second bucket
        #expect(detail.reason == .fallthrough(inExperiment: false))
    }

    @Test("the last-bucket fallback keeps inExperiment even for a missing context kind, as Go does")
    func lastBucketFallback() {
        let flag = #"""
            {"key":"f","on":true,"variations":["a","b"],
             "fallthrough":{"rollout":{"kind":"experiment","contextKind":"org",
               "variations":[{"variation":0,"weight":0},{"variation":1,"weight":0}]}}}
            """#
        let detail = evaluationData(flags: [flag]).evaluate(flagKey: "f", context: .user("u"))
        #expect(detail.variationIndex == 1)
        #expect(detail.reason == .fallthrough(inExperiment: true))
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
