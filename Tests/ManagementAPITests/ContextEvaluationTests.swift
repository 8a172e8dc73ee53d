import Foundation
import ModelsCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// "Evaluate as a context": the pure part (context parsing, every flag evaluated and written) without processes.
@Suite("evaluate as a context: logic")
struct ContextEvaluationLogicTests {
    private static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    /// Two flags and a segment: `beta` serves true to contexts in segment `testers` (rule 0) and to the target
    /// `alice`; `banner` is off with off variation 1; `gated` requires `beta` to serve true.
    static let payload = #"""
    {"flags": {
      "beta": {"key":"beta","version":3,"on":true,"salt":"s","variations":[true,false],"offVariation":1,
               "fallthrough":{"variation":1},"targets":[{"values":["alice"],"variation":0}],
               "rules":[{"id":"r0","clauses":[{"attribute":"segmentMatch","op":"segmentMatch","values":["testers"]}],"variation":0}]},
      "banner": {"key":"banner","version":1,"on":false,"salt":"s","variations":["a","b"],"offVariation":1,"fallthrough":{"variation":0}},
      "gated": {"key":"gated","version":2,"on":true,"salt":"s","variations":["x","y"],"fallthrough":{"variation":0},"offVariation":1,
                "prerequisites":[{"key":"beta","variation":0}]},
      "gone": {"key":"gone","version":9,"deleted":true}
    },
    "segments": {"testers": {"key":"testers","version":1,"salt":"s","included":["bob"],
                             "rules":[{"clauses":[{"attribute":"email","op":"endsWith","values":["@example.com"]}]}]}}}
    """#

    private func evaluate(_ context: String) throws -> [String: JSONValue] {
        let payload = try PollingPayload(json: Self.parse(Self.payload))
        let evaluationContext = try ContextEvaluation.context(from: Self.parse(context))
        let body = try JSONParser.parse(ContextEvaluation.evaluateAll(payload, context: evaluationContext))
        var byKey: [String: JSONValue] = [:]
        guard case .array(let items)? = body["items"] else { Issue.record("no items: \(body)"); return [:] }
        for item in items { byKey[item["key"]?.stringValue ?? ""] = item }
        #expect(items.compactMap { $0["key"]?.stringValue } == ["banner", "beta", "gated"], "key order, tombstones left out")
        return byKey
    }

    @Test("a target, a segment rule, the fallthrough, an off flag and a prerequisite, with their reasons")
    func reasons() throws {
        let alice = try evaluate(#"{"kind":"user","key":"alice"}"#)
        #expect(alice["beta"]?["value"] == .bool(true))
        #expect(alice["beta"]?["variation"] == .number(0))
        #expect(alice["beta"]?["reason"]?["kind"] == .string("TARGET_MATCH"))
        #expect(alice["beta"]?["flagVersion"] == .number(3))
        #expect(alice["banner"]?["value"] == .string("b"))
        #expect(alice["banner"]?["reason"]?["kind"] == .string("OFF"))
        #expect(alice["gated"]?["value"] == .string("x"))
        #expect(alice["gated"]?["prerequisites"] == .array([.string("beta")]))

        let byEmail = try evaluate(#"{"kind":"user","key":"carol","email":"carol@example.com"}"#)
        #expect(byEmail["beta"]?["reason"]?["kind"] == .string("RULE_MATCH"))
        #expect(byEmail["beta"]?["reason"]?["ruleId"] == .string("r0"))

        let nobody = try evaluate(#"{"kind":"user","key":"dave"}"#)
        #expect(nobody["beta"]?["value"] == .bool(false))
        #expect(nobody["beta"]?["reason"]?["kind"] == .string("FALLTHROUGH"))
        #expect(nobody["gated"]?["value"] == .string("y"))
        #expect(nobody["gated"]?["reason"]?["kind"] == .string("PREREQUISITE_FAILED"))
        #expect(nobody["gated"]?["reason"]?["prerequisiteKey"] == .string("beta"))
    }

    @Test("multi-kind and pre-context user contexts are accepted; the answer echoes the parsed context")
    func contextForms() throws {
        let multi = try evaluate(#"{"kind":"multi","user":{"key":"bob"},"org":{"key":"acme","name":"<script>x</script>"}}"#)
        #expect(multi["beta"]?["reason"]?["kind"] == .string("RULE_MATCH"), "bob is included in the segment")
        let legacy = try evaluate(#"{"key":"alice","custom":{"plan":"pro"}}"#)
        #expect(legacy["beta"]?["reason"]?["kind"] == .string("TARGET_MATCH"))
        let payload = try PollingPayload(json: Self.parse(Self.payload))
        let body = try JSONParser.parse(ContextEvaluation.evaluateAll(
            payload, context: ContextEvaluation.context(from: Self.parse(#"{"kind":"org","key":"acme","tier":"<b>"}"#))))
        #expect(body["context"]?["kind"] == .string("org"))
        #expect(body["context"]?["tier"] == .string("<b>"))
    }

    @Test("what is not a context is a 422 with the parser's reason", arguments: [
        (#"[1]"#, "found array"),
        (#""user""#, "found string"),
        (#"{"kind":"user"}"#, "key"),
        (#"{"kind":"","key":"a"}"#, "kind"),
        (#"{"kind":"multi"}"#, "multi"),
        (#"{"kind":"user","key":"a","name":7}"#, "name"),
    ])
    func invalid(body: String, mentions: String) throws {
        let json = try Self.parse(body)
        do {
            _ = try ContextEvaluation.context(from: json)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.message.contains(mentions) == true, "\(body): \(error)")
        }
    }
}

/// The route through a real management-api and PostgreSQL.
@Suite("evaluate as a context: API", .serialized, .timeLimit(.minutes(3)))
struct ContextEvaluationAPITests {
    @Test("a reader evaluates every flag of one environment; bad input and unknown environments are JSON errors")
    func route() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":"on"},{"value":"off"}]}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"g","name":"G","variations":[{"value":1},{"value":2}]}"#)
            try await api.expect(200, "PATCH", "/projects/p/flags/f/environments/production", #"""
                {"on":true,"rules":[{"clauses":[{"attribute":"plan","op":"in","values":["pro"]}],"variation":0}],
                 "fallthrough":{"variation":1}}
                """#)
            let reader = try await api.token("reader")
            let answer = try await api.expect(200, "POST", "/projects/p/environments/production/evaluate",
                                              #"{"kind":"user","key":"u1","plan":"pro"}"#, token: reader)
            guard case .array(let items)? = answer["items"] else { Issue.record("no items: \(answer)"); return }
            #expect(items.count == 2)
            #expect(items.first?["key"] == .string("f"))
            #expect(items.first?["value"] == .string("on"))
            #expect(items.first?["reason"]?["kind"] == .string("RULE_MATCH"))
            // Another environment's data is its own: the rule was set only in production.
            let test = try await api.expect(
                200, "POST", "/projects/p/environments/test/evaluate", #"{"kind":"user","key":"u1","plan":"pro"}"#)
            #expect(test["items"]?[0]?["reason"]?["kind"] == .string("OFF"))

            let bad = try await api.expect(422, "POST", "/projects/p/environments/production/evaluate", #"{"kind":"user"}"#)
            #expect(bad["code"] == .string("validation_failed"))
            try await api.expect(400, "POST", "/projects/p/environments/production/evaluate", #"{"kind":"#)
            try await api.expect(404, "POST", "/projects/p/environments/nope/evaluate", #"{"kind":"user","key":"a"}"#)
            try await api.expect(401, "POST", "/projects/p/environments/production/evaluate", #"{"kind":"user","key":"a"}"#, token: "nope")
        }
    }
}
