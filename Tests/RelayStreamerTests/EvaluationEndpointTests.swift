import ModelsCore
import Testing

@testable import RelayStreamer

@Suite("Client-side and OFREP results")
struct EvaluationEndpointTests {
    /// Flags: `off` (off), `fixed` (on, fallthrough 0), `split` (fallthrough rollout), `targeted`
    /// (alice targeted, experiment fallthrough), `gated` (prerequisite `off` must serve 0),
    /// `mobile-only`, `no-off-variation` (off without an off variation).
    private func data() -> EvaluationData {
        var flags: [FeatureFlag] = []
        func add(_ key: String, configure: (inout FeatureFlag) -> Void = { _ in }) {
            var flag = FeatureFlag(
                key: key, version: 7, on: true, variations: ["a", "b"], offVariation: 1, fallthrough: .init(variation: 0), salt: key,
                clientSideAvailability: .init(usingMobileKey: true, usingEnvironmentID: true))
            configure(&flag)
            flags.append(flag)
        }
        add("off") { $0.on = false }
        add("fixed") { $0.trackEvents = true }
        add("split") { $0.fallthrough = .init(rollout: Rollout(variations: [.init(variation: 0, weight: 50_000),
            .init(variation: 1, weight: 50_000)])) }
        add("targeted") {
            $0.targets = [Target(values: ["alice"], variation: 1)]
            $0.fallthrough = .init(rollout: Rollout(kind: "experiment", variations: [.init(variation: 0, weight: 100_000)]))
        }
        add("gated") { $0.prerequisites = [Prerequisite(key: "off", variation: 0)] }
        add("mobile-only") { $0.clientSideAvailability = .init(usingMobileKey: true, usingEnvironmentID: false) }
        add("no-off-variation") {
            $0.on = false
            $0.offVariation = nil
        }
        add("malformed") { $0.fallthrough = .init(variation: 9) }
        return EvaluationData(PollingPayload(flags: Dictionary(uniqueKeysWithValues: flags.map { ($0.key, $0) })))
    }

    private func object(_ bytes: [UInt8]) throws -> [String: JSONValue] {
        try #require(try JSONParser.parse(bytes).objectValue)
    }

    @Test("client-side results: value, variation, versions, tracking, reasons and direct prerequisites")
    func clientSide() throws {
        let results = try object(ClientSideEvaluation.evaluateAll(data(), context: .user("bob"), client: .javaScript, withReasons: false))
        #expect(results["mobile-only"] == nil, "browser clients see only flags available to them")
        #expect(results["fixed"] == ["value": "a", "variation": 0, "version": 7, "flagVersion": 7, "trackEvents": true])
        #expect(results["off"] == ["value": "b", "variation": 1, "version": 7, "flagVersion": 7])
        #expect(results["no-off-variation"] == ["value": nil, "variation": nil, "version": 7, "flagVersion": 7])
        #expect(results["gated"] == ["value": "b", "variation": 1, "version": 7, "flagVersion": 7, "prerequisites": ["off"]])
        // An experiment always carries its reason and asks for tracking.
        #expect(results["targeted"] == [
            "value": "a", "variation": 0, "version": 7, "flagVersion": 7, "trackEvents": true, "trackReason": true,
            "reason": ["kind": "FALLTHROUGH", "inExperiment": true],
        ])
        let alice = try object(ClientSideEvaluation.evaluateAll(data(), context: .user("alice"), client: .mobile, withReasons: true))
        #expect(alice["targeted"]?["reason"] == ["kind": "TARGET_MATCH"])
        #expect(alice["mobile-only"]?["reason"] == ["kind": "FALLTHROUGH"])
        #expect(alice["gated"]?["reason"] == ["kind": "PREREQUISITE_FAILED", "prerequisiteKey": "off"])
        #expect(alice["malformed"]?["reason"] == ["kind": "ERROR", "errorKind": "MALFORMED_FLAG"])
    }

    @Test("OFREP contexts map as LaunchDarkly's OpenFeature providers map them")
    func contexts() throws {
        let single = try OFREPContext.evaluationContext([
            "targetingKey": "u1", "kind": "org", "name": "Acme", "anonymous": true, "privateAttributes": ["tier"], "tier": "gold",
        ])
        let org = single.individualContexts[0]
        #expect(single.kind == "org")
        #expect(org.key == "u1" && org.name == "Acme" && org.anonymous)
        #expect(org.attributes == ["tier": "gold"])
        #expect(org.privateAttributes.map(\.rawValue) == ["tier"])
        #expect(try OFREPContext.evaluationContext(["key": "k"]).fullyQualifiedKey == "k", "key stands in for targetingKey")
        let multi = try OFREPContext.evaluationContext([
            "kind": "multi", "user": ["targetingKey": "u"], "org": ["key": "o", "plan": "x"],
        ])
        #expect(multi.fullyQualifiedKey == "org:o:user:u")
        for (context, code) in [
            (JSONValue.object([:]), "TARGETING_KEY_MISSING"), (["targetingKey": ""], "TARGETING_KEY_MISSING"),
            (["targetingKey": 3], "INVALID_CONTEXT"), (["targetingKey": "u", "kind": "bad kind"], "INVALID_CONTEXT"),
            (["kind": "multi"], "INVALID_CONTEXT"), (["kind": "multi", "user": [:]], "TARGETING_KEY_MISSING"), ("text", "INVALID_CONTEXT"),
        ] {
            #expect(throws: OFREPContextError.self, "\(context)") { try OFREPContext.evaluationContext(context) }
            do {
                _ = try OFREPContext.evaluationContext(context)
            } catch {
                #expect(error.code == code, "\(context)")
            }
        }
        #expect(throws: OFREPContextError.self) { try OFREPContext.evaluationContext(nil) }
    }

    @Test("OFREP results: reasons, variants, metadata, and failures with their status")
    func ofrep() throws {
        let data = data()
        func single(_ key: String, _ context: EvaluationContext = .user("bob")) throws -> (Int, [String: JSONValue]) {
            let outcome = OFREPEvaluation.evaluate(key: key, in: data, context: context)
            return (outcome.status, try object(outcome.json))
        }
        let (offStatus, off) = try single("off")
        #expect(offStatus == 200)
        #expect(off == [
            "key": "off", "reason": "DISABLED", "variant": "1", "value": "b",
            "metadata": ["flagVersion": 7, "reasonKind": "OFF", "variationIndex": 1],
        ])
        #expect(try single("fixed").1["reason"] == "STATIC")
        #expect(try single("split").1["reason"] == "SPLIT")
        #expect(try single("targeted", .user("alice")).1["reason"] == "TARGETING_MATCH")
        #expect(try single("targeted").1["metadata"]?["inExperiment"] == true)
        #expect(try single("gated").1["reason"] == "UNKNOWN")
        #expect(try single("gated").1["metadata"]?["prerequisiteKey"] == "off")
        let (_, codeDefault) = try single("no-off-variation")
        #expect(codeDefault["value"] == nil, "no variation: the caller's default applies")
        #expect(codeDefault["variant"] == "")
        let (missingStatus, missing) = try single("nope")
        #expect(missingStatus == 404)
        #expect(missing["errorCode"] == "FLAG_NOT_FOUND")
        let (malformedStatus, malformed) = try single("malformed")
        #expect(malformedStatus == 400)
        #expect(malformed["errorCode"] == "GENERAL")
        #expect(malformed["metadata"]?["errorKind"] == "MALFORMED_FLAG")

        let bulk = try object(OFREPRoutes.evaluateAll(data, context: .user("bob")))
        let keys = try #require(bulk["flags"]?.arrayValue).compactMap { $0["key"]?.stringValue }
        #expect(keys == data.flags.keys.sorted(by: utf8Less))
    }

    @Test("the OFREP bulk ETag changes with the data revision and with the context")
    func etag() {
        let a = OFREPRoutes.etag(environmentID: "e", revision: 3, context: ["targetingKey": "u", "x": 1])
        #expect(a == OFREPRoutes.etag(environmentID: "e", revision: 3, context: ["x": 1, "targetingKey": "u"]))
        #expect(a != OFREPRoutes.etag(environmentID: "e", revision: 4, context: ["targetingKey": "u", "x": 1]))
        #expect(a != OFREPRoutes.etag(environmentID: "e", revision: 3, context: ["targetingKey": "v", "x": 1]))
        #expect(a != OFREPRoutes.etag(environmentID: "f", revision: 3, context: ["targetingKey": "u", "x": 1]))
    }
}
