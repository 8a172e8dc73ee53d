import Foundation
import Testing
import VaneSDK  // only the SDK: everything below must come through its re-exports

@Suite("VaneSDK public API")
struct PublicAPITests {
    @Test("contexts from JSON text and from the builder are the same; invalid ones throw ContextError")
    func contexts() throws {
        let parsed = try EvaluationContext(
            json: #"{"kind":"user","key":"u1","name":"Ann","plan":"gold","_meta":{"privateAttributes":["plan"]}}"#)
        let built = try EvaluationContext.builder("u1").name("Ann").set("plan", "gold").privateAttributes("plan").build()
        #expect(parsed == built)
        let org = try ContextBuilder(key: "acme", kind: "org").set("tier", 3).build()
        let multi = try EvaluationContext(multi: [SingleKindContext(key: "u1"), org.individualContexts[0]])
        #expect(multi.fullyQualifiedKey == "org:acme:user:u1")
        #expect(throws: ContextError.self) { try EvaluationContext(json: #"{"kind":"user"}"#) }
        #expect(throws: ContextError.self) { try EvaluationContext(json: "not json") }
        #expect(throws: ContextError.self) { try EvaluationContext.builder("").build() }
        #expect(throws: ContextError.self) { try EvaluationContext.builder("k", kind: "multi").build() }
    }

    @Test("details and reasons encode as LaunchDarkly's JSON (JSONEncoder chooses the property order)")
    func encoding() throws {
        var reason = EvaluationReason.ruleMatch(index: 2, id: "r-1", inExperiment: true)
        reason.bigSegmentsStatus = .notConfigured
        let detail = EvaluationDetail(value: ["a": [1, 2.5, "x", nil]], variationIndex: 1, reason: reason)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(detail), as: UTF8.self)
        #expect(text == #"{"reason":{"bigSegmentsStatus":"NOT_CONFIGURED","inExperiment":true,"kind":"RULE_MATCH","ruleId":"r-1","#
            + #""ruleIndex":2},"value":{"a":[1,2.5,"x",null]},"variationIndex":1}"#)
        let failed = String(decoding: try encoder.encode(EvaluationReason.prerequisiteFailed("p")), as: UTF8.self)
        #expect(failed == #"{"kind":"PREREQUISITE_FAILED","prerequisiteKey":"p"}"#)
        #expect(String(decoding: try encoder.encode(EvaluationReason.off), as: UTF8.self) == #"{"kind":"OFF"}"#)
    }

    @Test("a client from a data file: typed variations, WRONG_TYPE, FLAG_NOT_FOUND, CLIENT_NOT_READY, allFlags")
    func fileClient() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-sdk-api-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"""
            {"flags":{
              "b":{"key":"b","version":1,"on":true,"variations":[true,false],"fallthrough":{"variation":0}},
              "s":{"key":"s","version":1,"on":true,"variations":["red","blue"],"fallthrough":{"variation":1}},
              "n":{"key":"n","version":1,"on":true,"variations":[2.75],"fallthrough":{"variation":0}},
              "j":{"key":"j","version":1,"on":true,"variations":[{"x":[1]}],"fallthrough":{"variation":0}}},
             "segments":{}}
            """#.utf8).write(to: file)
        let client = VaneClient(
            sdkKey: "offline", baseURL: URL(string: "http://127.0.0.1:9")!, eventsURL: nil,
            configuration: VaneConfiguration(dataSource: .file(file)))
        let context = EvaluationContext.user("u")
        #expect(client.variationDetail("b", context: context, default: false).reason == .error(.clientNotReady))
        try await client.start(timeout: .seconds(2))
        #expect(client.isInitialized)
        #expect(client.boolVariation("b", context: context, default: false) == true)
        #expect(client.stringVariation("s", context: context, default: "?") == "blue")
        #expect(client.intVariation("n", context: context, default: 0) == 2)
        #expect(client.doubleVariation("n", context: context, default: 0) == 2.75)
        #expect(client.jsonVariation("j", context: context, default: nil) == ["x": [1]])
        #expect(client.stringVariation("b", context: context, default: "?") == "?")
        #expect(client.stringVariationDetail("b", context: context, default: "?").reason == .error(.wrongType))
        #expect(client.variationDetail("nope", context: context, default: "d") == EvaluationDetail(
            value: "d", variationIndex: nil, reason: .error(.flagNotFound)))
        #expect(client.allFlags(context: context) == ["b": true, "s": "blue", "n": 2.75, "j": ["x": [1]]])
        await client.shutdown()

        let missing = VaneClient(
            sdkKey: "offline", baseURL: URL(string: "http://127.0.0.1:9")!, eventsURL: nil,
            configuration: VaneConfiguration(dataSource: .file(file.appendingPathExtension("missing"))))
        do {
            try await missing.start(timeout: .seconds(2))
            Issue.record("a missing data file must fail the start")
        } catch {
            #expect(error.code == .invalidDataFile, "\(error)")
        }
        await missing.shutdown()
    }
}
