import ModelsCore
import Testing

@Suite("Flag and segment JSON")
struct ModelCodingTests {
    private let complete = #"""
        {"key":"checkout-v2","version":12,"on":true,"salt":"7c1d2b","deleted":false,
         "variations":[false,true,{"a":[1,2.5]}],"offVariation":0,
         "prerequisites":[{"key":"payments-enabled","variation":1}],
         "targets":[{"variation":1,"values":["alice"]}],
         "contextTargets":[{"contextKind":"user","variation":1,"values":[]},{"contextKind":"org","variation":1,"values":["acme"]}],
         "rules":[{"id":"6a2f","variation":1,"trackEvents":false,
                   "clauses":[{"contextKind":"user","attribute":"email","op":"endsWith","values":["@example.com"],"negate":false}]},
                  {"id":"b31c","trackEvents":true,"clauses":[{"attribute":"","op":"segmentMatch","values":["beta"],"negate":false}],
                   "rollout":{"kind":"experiment","contextKind":"user","seed":61,
                              "variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000,"untracked":true}]}}],
         "fallthrough":{"rollout":{"contextKind":"user","bucketBy":"key",
                                   "variations":[{"variation":0,"weight":90000},{"variation":1,"weight":10000}]}},
         "clientSide":false,"clientSideAvailability":{"usingMobileKey":true,"usingEnvironmentId":false},
         "trackEvents":false,"trackEventsFallthrough":false,"debugEventsUntilDate":null,"samplingRatio":3,"unknownField":{"x":1}}
        """#

    @Test("decode, encode, decode gives the same flag")
    func roundTrip() throws {
        let flag = try FeatureFlag(json: json(complete))
        let again = try FeatureFlag(json: JSONParser.parse(flag.jsonBytes))
        #expect(again == flag)
        #expect(flag.rules[1].variationOrRollout.rollout?.seed == 61)
        #expect(flag.samplingRatio == 3)
    }

    @Test("encoding always writes the arrays and fields the SDKs require, with integers as integers")
    func requiredFields() throws {
        let minimal = try FeatureFlag(
            json: json(#"{"key":"f","version":2.0,"rules":[{"clauses":[{"op":"segmentMatch","values":["s"]}],"variation":0}]}"#))
        let written = try JSONParser.parse(minimal.jsonBytes)
        for key in ["key", "on", "prerequisites", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "variations",
            "clientSide", "salt", "trackEvents", "trackEventsFallthrough", "debugEventsUntilDate", "version", "deleted"] {
            #expect(written[key] != nil, "\(key)")
        }
        let text = String(decoding: minimal.jsonBytes, as: UTF8.self)
        #expect(text.contains(#""version":2,"#))
        #expect(text.contains(#""clauses":[{"attribute":"","op":"segmentMatch","values":["s"],"negate":false}]"#))
    }

    @Test("an absent clientSideAvailability is inferred from clientSide, as Go does")
    func clientSideInference() throws {
        let legacy = try FeatureFlag(json: json(#"{"key":"f","clientSide":true}"#))
        #expect(legacy.clientSideAvailability == ClientSideAvailability(usingMobileKey: true, usingEnvironmentID: true))
    }

    @Test("wrong types are errors that name the path", arguments: [
        (#"{"key":"f","on":"yes"}"#, "on"),
        (#"{"key":"f","version":1.5}"#, "version"),
        (#"{"key":"f","rules":[{"clauses":[{"op":"in","values":"x"}]}]}"#, "rules[0].clauses[0].values"),
        (#"{"key":"f","prerequisites":[{"key":"p"}]}"#, "prerequisites[0].variation"),
        (#"{"key":"f","fallthrough":{"rollout":{"variations":[{"variation":0,"weight":"1"}]}}}"#,
            "fallthrough.rollout.variations[0].weight"),
        (#"{"key":"f","targets":[{"values":[1],"variation":0}]}"#, "targets[0].values[0]"),
    ])
    func typeErrors(text: String, path: String) {
        do {
            _ = try FeatureFlag(json: json(text))
            Issue.record("expected an error at \(path)")
        } catch {
            #expect(error.path == path)
        }
    }

    @Test("segments round-trip")
    func segments() throws {
        let text = #"{"key":"s","version":3,"included":["a"],"excluded":["b"],"includedContexts":[{"contextKind":"org","values":["o"]}],"#
            + #""excludedContexts":[],"salt":"x","#
            + #""rules":[{"id":"r","clauses":[],"weight":5000,"bucketBy":"email","rolloutContextKind":"user"}],"#
            + #""unbounded":true,"generation":4}"#
        let segment = try Segment(json: json(text))
        #expect(try Segment(json: JSONParser.parse(segment.jsonBytes)) == segment)
        #expect(segment.rules[0].weight == 5000)
    }

    @Test("polling payloads: keys from the map when missing, sorted output")
    func payload() throws {
        let payload = try PollingPayload(json: json(#"{"flags":{"b":{"version":1},"a":{"key":"a","version":2}},"segments":{}}"#))
        #expect(payload.flags["b"]?.key == "b")
        let text = String(decoding: payload.jsonBytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"flags":{"a":{"key":"a""#))
        #expect(text.hasSuffix(#"},"segments":{}}"#))
    }
}
