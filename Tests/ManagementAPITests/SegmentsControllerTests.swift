import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelsCore
import NIOCore
import ServiceKit
import Synchronization
import Testing

@testable import ManagementAPI

/// `/api/v1/projects/{p}/environments/{e}/segments` against the router with the in-memory repository: status codes,
/// JSON shapes, versions, validation (with its paths), cycles, references and roles, without PostgreSQL or a process.
/// (The transaction with its audit entry and outbox record, and flags that really refer to segments, are SQL's:
/// ResourceTests, ConsistencyTests.)
@Suite("segments: controller and validation (in memory)")
struct SegmentsControllerTests {
    static let base = "/api/v1/projects/p/environments/production/segments"

    static func app(role: Role = .writer, repository: InMemorySegmentRepository = InMemorySegmentRepository()) -> some ApplicationProtocol {
        RouterHarness.app(role: role) { api in SegmentsController(repository: repository).addRoutes(to: api) }
    }

    static func json(_ buffer: ByteBuffer) -> JSONValue { RouterHarness.json(buffer) }

    @Test("PUT creates (201, version 1), replaces (200, version 2, salt and createdAt kept); list, get; delete then 404")
    func lifecycle() async throws {
        try await Self.app().test(.router) { client in
            let created = try await client.send(.put, "\(Self.base)/beta", #"""
                {"name":"Beta","included":["u1"],"includedContexts":[{"contextKind":"org","values":["acme"]}],
                 "rules":[{"clauses":[{"attribute":"email","op":"endsWith","values":["@x.com"]}],"weight":50000,"bucketBy":"email"}]}
                """#)
            #expect(created.status == .created)
            let first = Self.json(created.body)
            #expect(first["key"] == "beta" && first["name"] == "Beta" && first["version"] == 1)
            #expect(first["salt"]?.stringValue?.isEmpty == false, "a salt is generated")
            #expect(first["rules"]?[0]?["id"]?.stringValue?.isEmpty == false, "rule ids are generated")
            #expect(first["createdAt"]?.stringValue.flatMap(rfc3339UnixMilliseconds) != nil)

            let replaced = try await client.send(.put, "\(Self.base)/beta", #"{"included":["u1","u2"]}"#)
            #expect(replaced.status == .ok)
            let second = Self.json(replaced.body)
            #expect(second["version"] == 2)
            #expect(second["salt"] == first["salt"], "the salt is kept")
            #expect(second["name"] == "beta", "the name defaults to the key")
            #expect(second["createdAt"] == first["createdAt"] && second["updatedAt"] != first["updatedAt"])
            #expect(second["included"] == ["u1", "u2"] && second["rules"] == [])

            #expect(try await client.send(.put, "\(Self.base)/alpha", "{}").status == .created)
            let list = try await client.send(.get, Self.base)
            #expect(list.status == .ok)
            #expect(Self.json(list.body)["items"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["alpha", "beta"])
            let got = try await client.send(.get, "\(Self.base)/beta")
            #expect(got.status == .ok && Self.json(got.body) == second)

            #expect(try await client.send(.delete, "\(Self.base)/beta?comment=done").status == .noContent)
            let gone = try await client.send(.get, "\(Self.base)/beta")
            #expect(gone.status == .notFound && Self.json(gone.body)["code"] == "not_found")
            #expect(try await client.send(.delete, "\(Self.base)/beta").status == .notFound)
            // Re-created after deletion, the segment continues the version sequence past its tombstone (3).
            let again = try await client.send(.put, "\(Self.base)/beta", "{}")
            #expect(again.status == .created && Self.json(again.body)["version"] == 4)
        }
    }

    @Test("ETag is the version; If-Match on PUT and DELETE, If-None-Match: * on PUT: when they do not hold, 412 and nothing changes")
    func ifMatch() async throws {
        try await Self.app().test(.router) { client in
            // A PUT that names a version may not create the segment.
            let early = try await client.send(.put, "\(Self.base)/beta", "{}", headers: [.ifMatch: "\"1\""])
            #expect(early.status == .preconditionFailed && Self.json(early.body)["code"] == "precondition_failed")
            #expect(try await client.send(.get, "\(Self.base)/beta").status == .notFound)

            let created = try await client.send(.put, "\(Self.base)/beta", #"{"included":["u1"]}"#)
            #expect(created.status == .created && created.headers[.eTag] == "\"1\"")
            #expect(try await client.send(.get, "\(Self.base)/beta").headers[.eTag] == "\"1\"")
            let replaced = try await client.send(.put, "\(Self.base)/beta", #"{"included":["u2"]}"#, headers: [.ifMatch: "\"1\""])
            #expect(replaced.status == .ok && replaced.headers[.eTag] == "\"2\"" && Self.json(replaced.body)["included"] == ["u2"])

            // Someone who read version 1 is refused, in words, and the segment is unchanged.
            let stale = try await client.send(.put, "\(Self.base)/beta", #"{"included":["u3"]}"#, headers: [.ifMatch: "\"1\""])
            #expect(stale.status == .preconditionFailed)
            #expect(Self.json(stale.body)["message"]?.stringValue?.contains("version 2, not 1") == true, "\(Self.json(stale.body))")
            let staleDelete = try await client.send(.delete, "\(Self.base)/beta", headers: [.ifMatch: "W/\"1\""])
            #expect(staleDelete.status == .preconditionFailed)
            let current = Self.json(try await client.send(.get, "\(Self.base)/beta").body)
            #expect(current["version"] == 2 && current["included"] == ["u2"])

            // If-None-Match: * creates, never replaces.
            let exists = try await client.send(.put, "\(Self.base)/beta", "{}", headers: [.ifNoneMatch: "*"])
            #expect(exists.status == .preconditionFailed)
            #expect(Self.json(exists.body)["message"]?.stringValue?.contains("already exists") == true)
            #expect(try await client.send(.put, "\(Self.base)/gamma", "{}", headers: [.ifNoneMatch: "*"]).status == .created)
            #expect(try await client.send(.put, "\(Self.base)/gamma", "{}", headers: [.ifNoneMatch: "\"1\""]).status == .badRequest)

            #expect(try await client.send(.put, "\(Self.base)/beta", "{}", headers: [.ifMatch: "soon"]).status == .badRequest)
            #expect(try await client.send(.put, "\(Self.base)/beta", "{}", headers: [.ifMatch: "*"]).status == .ok, "* is any version")
            #expect(try await client.send(.delete, "\(Self.base)/beta", headers: [.ifMatch: "\"3\""]).status == .noContent)
        }
    }

    @Test("the JSON shape: every field of a bounded segment, unbounded and generation only for an unbounded one")
    func shape() async throws {
        try await Self.app().test(.router) { client in
            let bounded = Self.json(try await client.send(.put, "\(Self.base)/b", #"{"salt":"","tags":["t"],"description":"d"}"#).body)
            #expect(Set(bounded.objectValue?.keys.map { $0 } ?? []) == [
                "key", "name", "description", "tags", "included", "excluded", "includedContexts", "excludedContexts", "rules", "salt",
                "version", "createdAt", "updatedAt",
            ])
            #expect(bounded["salt"] == "", "an explicit salt, even empty, is kept")
            #expect(bounded["tags"] == ["t"] && bounded["description"] == "d")
            let unboundedBody = #"{"unbounded":true,"unboundedContextKind":"org"}"#
            let unbounded = Self.json(try await client.send(.put, "\(Self.base)/u", unboundedBody).body)
            #expect(unbounded["unbounded"] == true && unbounded["generation"] == .null && unbounded["unboundedContextKind"] == "org")
            let clause = Self.json(try await client.send(.put, "\(Self.base)/c", #"""
                {"rules":[{"id":"r1","clauses":[{"attribute":"age","op":"greaterThan","values":[21.5]}]}],
                 "excludedContexts":[{"values":["x"]}]}
                """#).body)
            let expectedClause: JSONValue = ["attribute": "age", "op": "greaterThan", "values": [21.5], "negate": false]
            #expect(clause["rules"] == [["id": "r1", "clauses": [expectedClause]]])
            #expect(clause["excludedContexts"] == [["values": ["x"]]])
            // The Codable model reads what it writes.
            let segment = try JSONDecoder().decode(SegmentResource.self, from: Data(JSONWriter.string(clause).utf8))
            #expect(segment.rules.first?.clauses.first?.values == [21.5] && segment.version == 1)
        }
    }

    @Test("an invalid body is one 422 naming every field; nothing is stored", arguments: [
        (#"{"rules":[{"clauses":[{"attribute":"a","op":"nope","values":[1]}]}]}"#, ["rules[0].clauses[0].op"]),
        (#"{"rules":[{"clauses":[],"weight":100001}]}"#, ["rules[0].weight"]),
        (#"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["missing"]}]}]}"#, ["rules[0].clauses[0].values[0]"]),
        (#"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["s"]}]}]}"#, ["rules[0].clauses[0].values[0]"]),
        (#"{"includedContexts":[{"contextKind":"kind","values":["x"]}]}"#, ["includedContexts[0].contextKind"]),
        (#"{"included":[1]}"#, ["included[0]"]),
        (#"{"key":"other","name":1,"tags":[1,"ok",2]}"#, ["key", "name", "tags[0]", "tags[2]"]),
        (#"{"tags":"t","description":false}"#, ["description", "tags"]),
        (#"{"rules":[{"clauses":[],"rolloutContextKind":"user","bucketBy":"/"}]}"#, ["rules[0].bucketBy"]),
        (#"[1]"#, []),
    ])
    func invalidBodies(body: String, paths: [String]) async throws {
        try await Self.app().test(.router) { client in
            let response = try await client.send(.put, "\(Self.base)/s", body)
            #expect(response.status == .unprocessableContent)
            #expect(Self.json(response.body)["code"] == "validation_failed")
            #expect(RouterHarness.problemPaths(response.body) == paths)
            #expect(try await client.send(.get, "\(Self.base)/s").status == .notFound)
        }
    }

    @Test("an invalid key in the path is a 422 naming key, before the body is read", arguments: [
        "bad%20key", String(repeating: "k", count: 257), "caf%C3%A9",
    ])
    func invalidKeys(key: String) async throws {
        try await Self.app().test(.router) { client in
            let response = try await client.send(.put, "\(Self.base)/\(key)", "{")
            #expect(response.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(response.body) == ["key"])
        }
    }

    @Test("a body that is not JSON is 400; a missing project, environment or segment is 404")
    func malformedAndMissing() async throws {
        try await Self.app().test(.router) { client in
            #expect(try await client.send(.put, "\(Self.base)/s", #"{"included":}"#).status == .badRequest)
            for (method, uri) in [
                (HTTPRequest.Method.get, "/api/v1/projects/nope/environments/production/segments"),
                (.get, "/api/v1/projects/p/environments/nope/segments"), (.get, "\(Self.base)/nope"), (.delete, "\(Self.base)/nope"),
                (.put, "/api/v1/projects/p/environments/nope/segments/s"),
            ] {
                let response = try await client.send(method, uri, method == .put ? "{}" : "")
                #expect(response.status == .notFound, "\(method) \(uri)")
            }
            let project = try await client.send(.get, "/api/v1/projects/nope/environments/production/segments")
            #expect(Self.json(project.body)["message"]?.stringValue?.contains("project \"nope\"") == true)
        }
    }

    @Test("segment references: to existing segments only, never in a cycle (422 at the value's path)")
    func cycles() async throws {
        try await Self.app().test(.router) { client in
            func refers(to keys: String...) -> String {
                #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["#
                    + keys.map { "\"\($0)\"" }.joined(separator: ",") + "]}]}]}"
            }
            #expect(try await client.send(.put, "\(Self.base)/a", "{}").status == .created)
            #expect(try await client.send(.put, "\(Self.base)/b", refers(to: "a")).status == .created)
            #expect(try await client.send(.put, "\(Self.base)/c", refers(to: "b")).status == .created)
            // a → c → b → a.
            let cycle = try await client.send(.put, "\(Self.base)/a", refers(to: "x", "c"))
            #expect(cycle.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(cycle.body) == ["rules[0].clauses[0].values[0]", "rules[0].clauses[0].values[1]"])
            let messages = (Self.json(cycle.body)["details"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }
            #expect(messages.last?.contains("cycle") == true && messages.first?.contains("does not exist") == true)
            let unchanged = Self.json(try await client.send(.get, "\(Self.base)/a").body)
            #expect(unchanged["version"] == 1 && unchanged["rules"] == [])
            // A segment that refers to itself is a cycle too; a diamond (d → b, d → c) is not.
            let itself = try await client.send(.put, "\(Self.base)/d", refers(to: "d"))
            #expect(itself.status == .unprocessableContent && RouterHarness.problemPaths(itself.body) == ["rules[0].clauses[0].values[0]"])
            #expect(try await client.send(.put, "\(Self.base)/d", refers(to: "b", "c")).status == .created)
        }
    }

    @Test("delete is refused (409) while another segment or a flag refers to the segment")
    func deleteWhileReferenced() async throws {
        let flags = Mutex<[String: [String]]>([:])
        let repository = InMemorySegmentRepository(flagsReferring: { project, environment, segment in
            project == "p" && environment == "production" ? flags.withLock { $0[segment] ?? [] } : []
        })
        try await Self.app(repository: repository).test(.router) { client in
            #expect(try await client.send(.put, "\(Self.base)/a", "{}").status == .created)
            #expect(try await client.send(.put, "\(Self.base)/b",
                #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["a"]}]}]}"#).status == .created)
            let bySegment = try await client.send(.delete, "\(Self.base)/a")
            #expect(bySegment.status == .conflict && Self.json(bySegment.body)["code"] == "conflict")
            #expect(Self.json(bySegment.body)["message"]?.stringValue?.contains("segment b") == true)

            #expect(try await client.send(.put, "\(Self.base)/b", "{}").status == .ok)
            flags.withLock { $0["a"] = ["f"] }
            let byFlag = try await client.send(.delete, "\(Self.base)/a")
            #expect(byFlag.status == .conflict)
            #expect(Self.json(byFlag.body)["message"]?.stringValue?.contains("used by f;") == true)
            #expect(try await client.send(.get, "\(Self.base)/a").status == .ok, "nothing was deleted")

            flags.withLock { $0["a"] = nil }
            #expect(try await client.send(.delete, "\(Self.base)/a").status == .noContent)
        }
    }

    @Test("a reader may list and get; PUT and DELETE need a writer (403)")
    func roles() async throws {
        let repository = InMemorySegmentRepository()
        try await Self.app(role: .writer, repository: repository).test(.router) { client in
            let created = try await client.send(.put, "\(Self.base)/s", "{}")
            #expect(created.status == .created)
        }
        try await Self.app(role: .reader, repository: repository).test(.router) { client in
            #expect(try await client.send(.get, Self.base).status == .ok)
            #expect(try await client.send(.get, "\(Self.base)/s").status == .ok)
            for (method, body) in [(HTTPRequest.Method.put, "{}"), (.delete, "")] {
                let response = try await client.send(method, "\(Self.base)/s", body)
                #expect(response.status == .forbidden, "\(method)")
                #expect(Self.json(response.body)["code"] == "forbidden")
            }
        }
        try await Self.app(role: .admin, repository: repository).test(.router) { client in
            let deleted = try await client.send(.delete, "\(Self.base)/s")
            #expect(deleted.status == .noContent)
        }
    }

    @Test("the pure checks: the draft keeps or replaces the stored salt; validation sees only the other segments")
    func pureValidation() throws {
        let draft = try SegmentDraft(json: ["included": ["u"]], key: "s")
        #expect(!draft.saltGiven)
        #expect(draft.definition(existingSalt: "old").segment.salt == "old")
        #expect(draft.definition(existingSalt: nil).segment.salt.count == 32)
        let salted = try SegmentDraft(json: ["salt": "mine"], key: "s")
        #expect(salted.definition(existingSalt: "old").segment.salt == "mine")
        #expect(throws: ValidationError(path: "key", "keys must match [A-Za-z0-9._-]{1,256}")) { try SegmentDraft.key("a b") }

        let refersToS = try SegmentDraft(
            json: ["rules": [["clauses": [["attribute": "", "op": "segmentMatch", "values": ["s"]]]]]], key: "t")
            .definition(existingSalt: nil)
        let s = draft.definition(existingSalt: nil)
        // The stored version of the segment itself is ignored: replacing it never conflicts with its old self.
        try s.validate(others: ["s": s, "t": refersToS].filter { $0.key == "s" })
        #expect(throws: ValidationError.self) {
            var cyclic = s
            cyclic.segment.rules = refersToS.segment.rules.map { rule in
                var rule = rule
                rule.clauses[0].values = ["t"]
                return rule
            }
            try cyclic.validate(others: ["t": refersToS])
        }
    }
}
