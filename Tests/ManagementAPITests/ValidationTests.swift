import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: validation", .serialized, .timeLimit(.minutes(3)))
struct ValidationTests {
    /// Targeting refused for what PostgreSQL holds: the validation inputs read, and locked, in the transaction. (Every
    /// other targeting problem is FlagsControllerTests', against the in-memory repository.)
    /// (what, body, the JSON path the 422 must name)
    static let targetingCases: [(String, String, String)] = [
        ("unknown segment", #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["nope"]}],"variation":0}]}"#,
            "rules[0].clauses[0].values[0]"),
        ("unknown prerequisite", #"{"prerequisites":[{"key":"nope","variation":0}]}"#, "prerequisites[0].key"),
        ("prerequisite variation out of range", #"{"prerequisites":[{"key":"other","variation":9}]}"#, "prerequisites[0].variation"),
        ("prerequisite of itself", #"{"prerequisites":[{"key":"f","variation":0}]}"#, "prerequisites[0].key"),
        ("off variation out of range", #"{"offVariation":2}"#, "offVariation"),
    ]

    @Test("targeting invalid against the environment in PostgreSQL is a 422 naming the field, and nothing is stored")
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

    @Test("invalid keys are refused with paths; a body above 1 MiB answers 413")
    func resources() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let big = "{\"name\":\"" + String(repeating: "x", count: 1 << 20) + "\"}"
            #expect(try await api.expect(413, "PATCH", "/projects/p", big)["code"] == "payload_too_large")
            try await api.expect(404, "GET", "/projects/nope/flags")
        }
    }
}
