import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: validation", .serialized, .timeLimit(.minutes(3)))
struct ValidationTests {
    /// (what, body, the JSON path the 422 must name)
    static let targetingCases: [(String, String, String)] = [
        ("off variation out of range", #"{"offVariation":2}"#, "offVariation"),
        ("no fallthrough (LaunchDarkly would call the flag malformed)", #"{"fallthrough":null}"#, "fallthrough"),
        ("negative fallthrough variation", #"{"fallthrough":{"variation":-1}}"#, "fallthrough.variation"),
        ("target variation out of range", #"{"targets":[{"values":["a"],"variation":7}]}"#, "targets[0].variation"),
        ("rule variation out of range", #"{"rules":[{"clauses":[{"attribute":"a","op":"in","values":[1]}],"variation":5}]}"#,
            "rules[0].variation"),
        ("rollout variation out of range", #"{"fallthrough":{"rollout":{"variations":[{"variation":3,"weight":100000}]}}}"#,
            "fallthrough.rollout.variations[0].variation"),
        ("rollout weight above 100000", #"{"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":100001}]}}}"#,
            "fallthrough.rollout.variations[0].weight"),
        ("negative rollout weight",
            #"{"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":-5},{"variation":1,"weight":100000}]}}}"#,
            "fallthrough.rollout.variations[0].weight"),
        ("weights adding up above 100000",
            #"{"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":60000},{"variation":1,"weight":60000}]}}}"#,
            "fallthrough.rollout.variations"),
        ("empty rollout", #"{"rules":[{"clauses":[],"rollout":{"variations":[]}}]}"#, "rules[0].rollout.variations"),
        ("rule with neither variation nor rollout", #"{"rules":[{"clauses":[]}]}"#, "rules[0]"),
        ("unknown operator", #"{"rules":[{"clauses":[{"attribute":"a","op":"isOneOf","values":[1]}],"variation":0}]}"#,
            "rules[0].clauses[0].op"),
        ("regex that does not compile", #"{"rules":[{"clauses":[{"attribute":"a","op":"matches","values":["a("]}],"variation":0}]}"#,
            "rules[0].clauses[0].values[0]"),
        ("regex RE2 cannot run", #"{"rules":[{"clauses":[{"attribute":"a","op":"matches","values":["(a)\\1"]}],"variation":0}]}"#,
            "rules[0].clauses[0].values[0]"),
        ("invalid attribute reference",
            #"{"rules":[{"clauses":[{"contextKind":"user","attribute":"/a//b","op":"in","values":[1]}],"variation":0}]}"#,
            "rules[0].clauses[0].attribute"),
        ("missing attribute", #"{"rules":[{"clauses":[{"op":"in","values":[1]}],"variation":0}]}"#, "rules[0].clauses[0].attribute"),
        ("invalid context kind", #"{"rules":[{"clauses":[{"contextKind":"multi","attribute":"a","op":"in","values":[1]}],"variation":0}]}"#,
            "rules[0].clauses[0].contextKind"),
        ("invalid target context kind", #"{"contextTargets":[{"contextKind":"a b","values":["x"],"variation":0}]}"#,
            "contextTargets[0].contextKind"),
        ("invalid bucketBy",
            #"{"fallthrough":{"rollout":{"contextKind":"user","bucketBy":"/~x","variations":[{"variation":0,"weight":100000}]}}}"#,
            "fallthrough.rollout.bucketBy"),
        ("unknown segment", #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["nope"]}],"variation":0}]}"#,
            "rules[0].clauses[0].values[0]"),
        ("unknown prerequisite", #"{"prerequisites":[{"key":"nope","variation":0}]}"#, "prerequisites[0].key"),
        ("prerequisite variation out of range", #"{"prerequisites":[{"key":"other","variation":9}]}"#, "prerequisites[0].variation"),
        ("prerequisite of itself", #"{"prerequisites":[{"key":"f","variation":0}]}"#, "prerequisites[0].key"),
        ("wrong JSON type", #"{"on":"yes"}"#, "on"),
        ("non-string target value", #"{"targets":[{"values":[1],"variation":0}]}"#, "targets[0].values[0]"),
    ]

    @Test("invalid targeting is refused with a 422 naming the field, and nothing is stored")
    func targeting() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"other","name":"O","variations":[{"value":1},{"value":2}]}"#)
            let path = "/projects/p/flags/f/environments/production"
            for (what, body, field) in Self.targetingCases {
                for method in ["PATCH", "PUT"] {
                    let error = try await api.expect(422, method, path, body)
                    #expect(error["code"] == "validation_failed", "\(what)")
                    let paths = error["details"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
                    #expect(paths.contains(field), "\(what) (\(method)): \(paths)")
                }
            }
            // PUT only: a merge patch with {} changes nothing.
            let empty = try await api.expect(422, "PUT", path, #"{"fallthrough":{}}"#)
            #expect(empty["details"]?[0]?["path"] == "fallthrough")
            // A cycle through another flag.
            try await api.expect(200, "PATCH", "/projects/p/flags/other/environments/production",
                #"{"prerequisites":[{"key":"f","variation":0}]}"#)
            let cycle = try await api.expect(422, "PATCH", path, #"{"prerequisites":[{"key":"other","variation":0}]}"#)
            #expect(cycle["details"]?[0]?["message"]?.stringValue?.contains("cycle") == true)
            // Nothing invalid was stored: only the initial version (and the other flag's change) exist.
            #expect(try await api.expect(200, "GET", path)["version"] == 1)
        }
    }

    @Test("invalid flags, projects and keys are refused with paths; limits and syntax errors answer 413 and 400")
    func resources() async throws {
        try await withHarness { api in
            let cases: [(String, String, String, String)] = [
                ("/projects", #"{"key":"bad key","name":"x"}"#, "key", "project key"),
                ("/projects", #"{"name":"x"}"#, "key", "missing key"),
                ("/projects", #"{"key":"ok","name":""}"#, "name", "empty name"),
                ("/projects", #"{"key":"ok","name":"x","environments":[{"key":"a"},{"key":"a","name":"A"}]}"#,
                    "environments[1].key", "duplicate env"),
            ]
            for (path, body, field, what) in cases {
                let error = try await api.expect(422, "POST", path, body)
                #expect(error["details"]?.arrayValue?.contains { $0["path"]?.stringValue == field } == true, "\(what): \(error)")
            }
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let flagCases: [(String, String)] = [
                (#"{"key":"f","name":"F","variations":[{"value":true},{"value":"no"}]}"#, "variations[1].value"),
                (#"{"key":"f","name":"F","variations":[]}"#, "variations"),
                (#"{"key":"f","name":"F","variations":[{"name":"x"}]}"#, "variations[0].value"),
                (#"{"key":"f","name":"F","variations":[{"value":1}],"defaults":{"onVariation":1}}"#, "defaults.onVariation"),
                (#"{"key":"f/x","name":"F","variations":[{"value":1}]}"#, "key"),
                (#"{"key":"\#(String(repeating: "k", count: 257))","name":"F","variations":[{"value":1}]}"#, "key"),
                (#"{"key":"f","name":"F","variations":[{"value":1}],"tags":[1]}"#, "tags[0]"),
            ]
            for (body, field) in flagCases {
                let error = try await api.expect(422, "POST", "/projects/p/flags", body)
                #expect(error["details"]?.arrayValue?.contains { $0["path"]?.stringValue == field } == true, "\(field): \(error)")
            }
            let big = "{\"name\":\"" + String(repeating: "x", count: 1 << 20) + "\"}"
            #expect(try await api.expect(413, "PATCH", "/projects/p", big)["code"] == "payload_too_large")
            let syntax = try await api.expect(400, "POST", "/projects", #"{"key": "x",}"#)
            #expect(syntax["message"]?.stringValue?.contains("line 1") == true)
            try await api.expect(422, "POST", "/projects", "[1,2]")
            try await api.expect(404, "GET", "/projects/nope/flags")
        }
    }
}
