import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelsCore
import NIOCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// `/api/v1/projects/{p}/flags…` against the router with the in-memory repository: shapes, validation with the
/// paths of every problem, versions with `ETag`/`If-Match`, and roles, without PostgreSQL or a process. What needs SQL
/// (the outbox, the audit log, locking and the validation inputs read in the transaction) is ResourceTests' and
/// ValidationTests'.
@Suite("flags: controller and validation (in memory)")
struct FlagsControllerTests {
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

    static let targetingPath = "/api/v1/projects/p/flags/f/environments/production"

    /// Project `p` (production, test), segment `s` in production, and, when `flags`, the boolean flag `f` and the
    /// number flag `other`; the caller holds `role`.
    static func app(role: Role = .writer, flags: Bool = true) async throws -> some ApplicationProtocol {
        let repository = InMemoryFlagRepository(projects: ["p": ["production", "test"]], segments: ["p/production": ["s"]])
        if flags {
            let actor = Identity(tokenID: "t", name: "setup", role: .writer)
            let bool = try FlagSettings(json: JSONParser.parse(Array(#"{"name":"F","variations":[{"value":true},{"value":false}]}"#.utf8)))
            let number = try FlagSettings(json: JSONParser.parse(Array(#"{"name":"O","variations":[{"value":1},{"value":2}]}"#.utf8)))
            _ = try await repository.create(FlagDraft(key: "f", settings: bool), projectKey: "p", actor: actor)
            _ = try await repository.create(FlagDraft(key: "other", settings: number), projectKey: "p", actor: actor)
        }
        return RouterHarness.app(role: role) { api in FlagsController(repository: repository).addRoutes(to: api) }
    }

    static func json(_ response: TestResponse) -> JSONValue { RouterHarness.json(response.body) }

    @Test("invalid targeting is a 422 naming the field, by PATCH and by PUT, and nothing is stored")
    func invalidTargeting() async throws {
        try await Self.app().test(.router) { client in
            for (what, body, field) in Self.targetingCases {
                for method in [HTTPRequest.Method.patch, .put] {
                    let response = try await client.send(method, Self.targetingPath, body)
                    #expect(response.status == .unprocessableContent, "\(what) (\(method))")
                    #expect(Self.json(response)["code"] == "validation_failed", "\(what)")
                    let paths = RouterHarness.problemPaths(response.body)
                    #expect(paths.contains(field), "\(what) (\(method)): \(paths)")
                }
            }
            // PUT replaces: an empty fallthrough is refused (a merge patch with it would change nothing).
            let empty = try await client.send(.put, Self.targetingPath, #"{"fallthrough":{}}"#)
            #expect(RouterHarness.problemPaths(empty.body) == ["fallthrough"])
            let current = try await client.send(.get, Self.targetingPath)
            #expect(Self.json(current)["version"] == 1, "nothing invalid was stored")
            #expect(current.headers[.eTag] == "\"1\"")
        }
    }

    @Test("prerequisites: a cycle through another flag is refused; a used flag cannot be deleted or lose the variation")
    func prerequisites() async throws {
        try await Self.app().test(.router) { client in
            let other = try await client.send(
                .patch, "/api/v1/projects/p/flags/other/environments/production", #"{"prerequisites":[{"key":"f","variation":1}]}"#)
            #expect(other.status == .ok)
            let cycle = try await client.send(.patch, Self.targetingPath, #"{"prerequisites":[{"key":"other","variation":0}]}"#)
            #expect(cycle.status == .unprocessableContent)
            #expect(Self.json(cycle)["details"]?[0]?["message"]?.stringValue?.contains("cycle") == true)
            // The same prerequisite in the other environment is no cycle: environments are independent.
            let test = try await client.send(
                .patch, "/api/v1/projects/p/flags/f/environments/test", #"{"prerequisites":[{"key":"other","variation":0}]}"#)
            #expect(test.status == .ok)

            let delete = try await client.send(.delete, "/api/v1/projects/p/flags/f")
            #expect(delete.status == .conflict)
            #expect(Self.json(delete)["message"]?.stringValue?.contains("\"other\"") == true)
            let shrink = try await client.send(.patch, "/api/v1/projects/p/flags/f", 
                #"{"variations":[{"value":true}],"defaults":{"onVariation":0,"offVariation":0}}"#)
            #expect(shrink.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(shrink.body).contains("variations"), "flag other requires variation 1")
            #expect(RouterHarness.problemPaths(shrink.body).contains("environments.production.offVariation"))
        }
    }

    @Test("a flag: 201 with its targeting in every environment; 409 twice; get, list with filters, patch, delete")
    func lifecycle() async throws {
        try await Self.app(flags: false).test(.router) { client in
            let created = try await client.send(
                .post, "/api/v1/projects/p/flags",
                #"{"key":"new-checkout","name":"New checkout","tags":["web"],"variations":[{"value":"a"},{"value":"b"},{"value":"c"}]}"#)
            #expect(created.status == .created)
            let flag = Self.json(created)
            #expect(flag["key"] == "new-checkout")
            #expect(flag["defaults"] == ["onVariation": 0, "offVariation": 2])
            #expect(flag["clientSideAvailability"] == ["usingEnvironmentId": false, "usingMobileKey": true])
            #expect(flag["salt"]?.stringValue?.count == 32)
            #expect(flag["temporary"] == false)
            for environment in ["production", "test"] {
                let targeting = flag["environments"]?[environment]
                #expect(targeting?["on"] == false)
                #expect(targeting?["offVariation"] == 2)
                #expect(targeting?["fallthrough"] == ["variation": 0])
                #expect(targeting?["version"] == 1)
                #expect(targeting?["salt"] == flag["salt"])
            }
            let body = #"{"key":"new-checkout","name":"x","variations":[{"value":1}]}"#
            #expect(try await client.send(.post, "/api/v1/projects/p/flags", body)
                .status == .conflict)
            _ = try await client.send(.post, "/api/v1/projects/p/flags", #"{"key":"dark-mode","name":"Dark","variations":[{"value":1}]}"#)

            func keys(_ query: String) async throws -> [String] {
                let list = try await client.send(.get, "/api/v1/projects/p/flags\(query)")
                #expect(list.status == .ok, "\(query)")
                return (Self.json(list)["items"]?.arrayValue ?? []).compactMap { $0["key"]?.stringValue }
            }
            #expect(try await keys("") == ["dark-mode", "new-checkout"])
            #expect(try await keys("?tag=web") == ["new-checkout"])
            #expect(try await keys("?q=DARK") == ["dark-mode"])
            #expect(try await keys("?q=checkout&tag=mobile") == [])
            #expect(try await keys("?environment=production&stale=false") == ["dark-mode", "new-checkout"])

            let patched = try await client.send(.patch, "/api/v1/projects/p/flags/new-checkout", #"{"name":"Checkout v2","tags":null}"#)
            #expect(patched.status == .ok)
            #expect(Self.json(patched)["name"] == "Checkout v2")
            #expect(Self.json(patched)["tags"] == [])
            #expect(Self.json(patched)["environments"]?["production"]?["version"] == 1, "SDKs see no change")
            let values = try await client.send(
                .patch, "/api/v1/projects/p/flags/new-checkout", #"{"variations":[{"value":"a"},{"value":"b"},{"value":"d"}]}"#)
            #expect(Self.json(values)["environments"]?["test"]?["version"] == 2, "new variation values are a new version everywhere")
            let immutable = try await client.send(.patch, "/api/v1/projects/p/flags/new-checkout", #"{"key":"x","salt":"y"}"#)
            #expect(immutable.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(immutable.body) == ["key", "salt"])

            #expect(try await client.send(.delete, "/api/v1/projects/p/flags/new-checkout").status == .noContent)
            let gone = try await client.send(.get, "/api/v1/projects/p/flags/new-checkout")
            #expect(gone.status == .notFound)
            #expect(Self.json(gone)["message"] == "flag \"new-checkout\" does not exist in project \"p\"")
            #expect(try await client.send(.get, "/api/v1/projects/nope/flags").status == .notFound)
            #expect(try await client.send(.get, "/api/v1/projects/p/flags/dark-mode/environments/staging").status == .notFound)
        }
    }

    @Test("an invalid flag body is one 422 naming every field", arguments: [
        (#"{"key":"f","name":"F","variations":[{"value":true},{"value":"no"}]}"#, ["variations[1].value"]),
        (#"{"key":"f","name":"F","variations":[]}"#, ["variations"]),
        (#"{"key":"f","name":"F","variations":[{"name":"x"}]}"#, ["variations[0].value"]),
        (#"{"key":"f","name":"F","variations":[{"value":1}],"defaults":{"onVariation":1}}"#, ["defaults.onVariation"]),
        (#"{"key":"f/x","name":"F","variations":[{"value":1}]}"#, ["key"]),
        (#"{"key":"\#(String(repeating: "k", count: 257))","name":"F","variations":[{"value":1}]}"#, ["key"]),
        (#"{"key":"f","name":"F","variations":[{"value":1}],"tags":[1]}"#, ["tags[0]"]),
        (#"{"name":"","salt":7,"variations":null}"#, ["key", "salt", "name", "variations"]),
        (#"[1]"#, []),
    ])
    func invalidFlag(body: String, paths: [String]) async throws {
        try await Self.app(flags: false).test(.router) { client in
            let response = try await client.send(.post, "/api/v1/projects/p/flags", body)
            #expect(response.status == .unprocessableContent)
            #expect(Self.json(response)["code"] == "validation_failed")
            #expect(RouterHarness.problemPaths(response.body) == paths)
        }
    }

    @Test("targeting versions: ETag, If-Match (412 when stale, 400 when not a version), segments of the environment")
    func versions() async throws {
        try await Self.app().test(.router) { client in
            let first = try await client.send(.get, Self.targetingPath)
            #expect(first.headers[.eTag] == "\"1\"")
            let on = try await client.send(.patch, Self.targetingPath, #"{"on":true}"#, headers: [.ifMatch: "\"1\""])
            #expect(on.status == .ok)
            #expect(on.headers[.eTag] == "\"2\"")
            #expect(Self.json(on)["on"] == true)
            let stale = try await client.send(.patch, Self.targetingPath, #"{"on":false}"#, headers: [.ifMatch: "\"1\""])
            #expect(stale.status == .preconditionFailed)
            #expect(Self.json(stale)["message"] == "the targeting is at version 2, not 1")
            #expect(try await client.send(.patch, Self.targetingPath, #"{"on":false}"#, headers: [.ifMatch: "soon"]).status == .badRequest)
            // PATCH merges: the fallthrough's variation replaces the rollout; PUT replaces everything not given.
            let rule = #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["s"]}],"variation":1}]}"#
            let withRule = try await client.send(.patch, Self.targetingPath, rule)
            #expect(withRule.status == .ok)
            #expect(Self.json(withRule)["rules"]?[0]?["id"]?.stringValue?.isEmpty == false, "rule ids are generated")
            #expect(Self.json(withRule)["on"] == true)
            let replaced = try await client.send(.put, Self.targetingPath, #"{"fallthrough":{"variation":1}}"#)
            #expect(Self.json(replaced)["on"] == false)
            #expect(Self.json(replaced)["rules"] == [])
            #expect(Self.json(replaced)["version"] == 4)
            let testSegment = try await client.send(.patch, "/api/v1/projects/p/flags/f/environments/test", rule)
            #expect(RouterHarness.problemPaths(testSegment.body) == ["rules[0].clauses[0].values[0]"], "s exists only in production")
        }
    }

    @Test("PATCH is a merge patch: other fields stay, null clears, the fallthrough is one of variation or rollout")
    func mergeSemantics() async throws {
        try await Self.app().test(.router) { client in
            func patch(_ body: String) async throws -> JSONValue {
                let response = try await client.send(.patch, Self.targetingPath, body)
                #expect(response.status == .ok, "\(body): \(Self.json(response))")
                return Self.json(response)
            }
            _ = try await patch(#"{"targets":[{"values":["alice"],"variation":0}]}"#)
            #expect(try await patch(#"{"on":true}"#)["targets"]?[0]?["values"] == ["alice"], "a merge patch keeps the other fields")
            #expect(try await patch(#"{"targets":null}"#)["targets"] == [])
            let rollout = try await patch(#"{"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":100000}]}}}"#)
            #expect(rollout["fallthrough"]?["variation"] == nil, "setting a rollout drops the variation")
            let bucketed = try await patch(#"{"fallthrough":{"rollout":{"bucketBy":"email"}}}"#)
            #expect(bucketed["fallthrough"]?["rollout"]?["bucketBy"] == "email")
            #expect(bucketed["fallthrough"]?["rollout"]?["variations"]?[0]?["weight"] == 100000, "nested objects merge")
            #expect(try await patch(#"{"fallthrough":{"variation":0}}"#)["fallthrough"] == ["variation": 0])
            // LaunchDarkly's meaning of an absent offVariation: the application's default value.
            let noOff = try await patch(#"{"offVariation":null}"#)
            #expect(noOff["offVariation"] == nil || noOff["offVariation"] == .null)
            #expect(noOff["version"] == 8)
        }
    }

    @Test("the list's stale filter needs true or false, and an environment")
    func staleFilter() async throws {
        try await Self.app().test(.router) { client in
            let bad = try await client.send(.get, "/api/v1/projects/p/flags?stale=maybe")
            #expect(bad.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(bad.body) == ["stale", "environment"])
            let empty = try await client.send(.get, "/api/v1/projects/p/flags?stale=&environment=production")
            #expect(RouterHarness.problemPaths(empty.body) == ["stale"])
            #expect(try await client.send(.get, "/api/v1/projects/p/flags?stale=true&environment=nope").status == .notFound)
        }
    }

    @Test("readers read; writing needs the writer role (403)")
    func roles() async throws {
        try await Self.app(role: .reader).test(.router) { client in
            #expect(try await client.send(.get, "/api/v1/projects/p/flags").status == .ok)
            #expect(try await client.send(.get, "/api/v1/projects/p/flags/f").status == .ok)
            #expect(try await client.send(.get, Self.targetingPath).status == .ok)
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/api/v1/projects/p/flags", #"{"key":"x","name":"X","variations":[{"value":1}]}"#),
                (.patch, "/api/v1/projects/p/flags/f", #"{"name":"G"}"#), (.delete, "/api/v1/projects/p/flags/f", ""),
                (.patch, Self.targetingPath, #"{"on":true}"#), (.put, Self.targetingPath, #"{"fallthrough":{"variation":0}}"#),
            ] {
                let response = try await client.send(method, uri, body)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(Self.json(response)["code"] == "forbidden")
            }
        }
    }
}
