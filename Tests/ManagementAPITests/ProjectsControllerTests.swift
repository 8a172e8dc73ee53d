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

/// `/api/v1/projects…` and `…/environments…` against the router with the in-memory repository: status codes, JSON
/// shapes, validation, key rotation and roles, without PostgreSQL or a process. (What the data plane receives, the
/// audit entries and grace periods at the relay are SQL's: ResourceTests, AccessTests.)
@Suite("projects and environments: controllers and validation (in memory)")
struct ProjectsControllerTests {
    /// A clock the test moves, for grace periods.
    final class Clock: Sendable {
        let millis = Mutex(1_767_225_600_000)
        func advance(seconds: Int) { millis.withLock { $0 += seconds * 1000 } }
    }

    static func app(role: Role, repository: InMemoryProjectRepository = InMemoryProjectRepository()) -> some ApplicationProtocol {
        RouterHarness.app(role: role) { api in
            ProjectsController(repository: repository).addRoutes(to: api)
            EnvironmentsController(repository: repository).addRoutes(to: api)
        }
    }

    /// A repository holding project `p` with its default environments (created as an admin).
    static func seeded(clock: Clock = Clock()) async throws -> InMemoryProjectRepository {
        let repository = InMemoryProjectRepository(now: { clock.millis.withLock { $0 } })
        _ = try await repository.create(ProjectDraft(key: "p", name: "P"), actor: Identity(tokenID: "t", name: "seed", role: .admin))
        return repository
    }

    static func json(_ buffer: ByteBuffer) -> JSONValue { RouterHarness.json(buffer) }

    /// The property names of an object.
    static func fields(_ value: JSONValue?) -> Set<String> { Set(value?.objectValue?.keys.map { $0 } ?? []) }

    static let environmentFields: Set<String> = [
        "id", "key", "name", "projectKey", "sdkKey", "mobileKey", "clientSideId", "secureMode", "version", "createdAt",
        "updatedAt", "retiredKeys",
    ]

    // MARK: Shapes

    @Test("the response models encode exactly as the store's JSON did (keys whole and masked)")
    func wireShapes() throws {
        let project = Project(id: UUID(), key: "p", name: "P", createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-02T00:00:00.000Z")
        let environment = Environment(
            id: UUID(), projectID: project.id, projectKey: "p", key: "e", name: "E", sdkKey: Identifiers.sdkKey(),
            mobileKey: Identifiers.mobileKey(), clientSideID: Identifiers.clientSideID(), secureMode: true, version: 3,
            createdAt: "2026-01-01T00:00:00.000Z", updatedAt: "2026-01-02T00:00:00.000Z",
            retiredKeys: [.init(kind: "sdk", key: Identifiers.sdkKey(), expiresAtMillis: 1_767_225_600_123),
                          .init(kind: "mobile", key: Identifiers.mobileKey(), expiresAtMillis: 1_767_225_700_000)])
        func encoded(_ value: some Encodable) throws -> JSONValue { try JSONParser.parse(Array(try JSONEncoder().encode(value))) }
        #expect(try encoded(project.model) == project.json)
        let model = try environment.model()
        #expect(try encoded(model) == environment.json())
        #expect(try encoded(model.masked) == environment.json(revealKeys: false))
        #expect(try encoded(model.shown(to: .reader)) == environment.json(revealKeys: false))
        #expect(try encoded(model.shown(to: .writer)) == environment.json())
        guard case .object(var detail) = project.json else { Issue.record("a project is an object"); return }
        detail["environments"] = [environment.json()]
        #expect(try encoded(ProjectWithEnvironments(project: project.model, environments: [model])) == .object(detail))
    }

    // MARK: Projects

    @Test("create: default environments production and test, each with fresh keys; 409 for a taken key")
    func createWithDefaults() async throws {
        try await Self.app(role: .admin).test(.router) { client in
            let created = try await client.send(.post, "/api/v1/projects", #"{"key":"shop","name":"Shop"}"#)
            #expect(created.status == .created)
            let project = Self.json(created.body)
            #expect(project["key"] == "shop" && project["name"] == "Shop")
            let id = try #require(project["id"]?.stringValue)
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(project["createdAt"]?.stringValue.flatMap(rfc3339UnixMilliseconds) != nil)
            let environments = try #require(project["environments"]?.arrayValue)
            #expect(environments.compactMap { $0["key"]?.stringValue } == ["production", "test"])
            #expect(environments.compactMap { $0["name"]?.stringValue } == ["Production", "Test"])
            for environment in environments {
                #expect(Self.fields(environment) == Self.environmentFields)
                #expect(environment["projectKey"] == "shop")
                #expect(environment["sdkKey"]?.stringValue?.hasPrefix("sdk-") == true)
                #expect(environment["mobileKey"]?.stringValue?.hasPrefix("mob-") == true)
                let clientSideID = try #require(environment["clientSideId"]?.stringValue)
                #expect(clientSideID.count == 24 && clientSideID.allSatisfy(\.isHexDigit))
                #expect(environment["secureMode"] == false)
                #expect(environment["version"] == 1)
                #expect(environment["retiredKeys"] == [])
            }
            #expect(environments[0]["sdkKey"] != environments[1]["sdkKey"])

            let again = try await client.send(.post, "/api/v1/projects", #"{"key":"shop","name":"Again"}"#)
            #expect(again.status == .conflict)
            #expect(Self.json(again.body)["code"] == "conflict")
        }
    }

    @Test("create with custom environments; list, show, rename and delete (204, then 404)")
    func lifecycle() async throws {
        try await Self.app(role: .admin).test(.router) { client in
            let custom = try await client.send(.post, "/api/v1/projects",
                #"{"key":"c","name":"C","environments":[{"key":"dev","name":"Dev","secureMode":true},{"key":"qa","name":"QA"}]}"#)
            #expect(custom.status == .created)
            let environments = Self.json(custom.body)["environments"]?.arrayValue ?? []
            #expect(environments.compactMap { $0["key"]?.stringValue } == ["dev", "qa"])
            #expect(environments.first?["secureMode"] == false, "environments listed at creation start without secure mode")
            let empty = try await client.send(.post, "/api/v1/projects", #"{"key":"a","name":"A","environments":[]}"#)
            #expect(Self.json(empty.body)["environments"] == [])
            let null = try await client.send(.post, "/api/v1/projects", #"{"key":"b","name":"B","environments":null}"#)
            #expect(Self.json(null.body)["environments"]?.arrayValue?.count == 2)

            let list = try await client.send(.get, "/api/v1/projects")
            #expect(list.status == .ok)
            let items = Self.json(list.body)["items"]?.arrayValue ?? []
            #expect(items.compactMap { $0["key"]?.stringValue } == ["a", "b", "c"])
            #expect(items.allSatisfy { $0["environments"] == nil }, "the list shows projects without environments")
            #expect(Self.fields(items.first) == ["id", "key", "name", "createdAt", "updatedAt"])

            let shown = try await client.send(.get, "/api/v1/projects/c")
            #expect(shown.status == .ok)
            #expect(Self.json(shown.body)["environments"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["dev", "qa"])

            let renamed = try await client.send(.patch, "/api/v1/projects/c", #"{"key":"c","name":"C 2"}"#)
            #expect(renamed.status == .ok)
            #expect(Self.json(renamed.body)["name"] == "C 2")
            #expect(Self.json(renamed.body)["environments"] == nil)
            #expect(Self.json(try await client.send(.get, "/api/v1/projects/c").body)["name"] == "C 2")

            #expect(try await client.send(.delete, "/api/v1/projects/c").status == .noContent)
            #expect(try await client.send(.get, "/api/v1/projects/c").status == .notFound)
            #expect(try await client.send(.get, "/api/v1/projects/c/environments/dev").status == .notFound)
            #expect(try await client.send(.delete, "/api/v1/projects/c").status == .notFound)
        }
    }

    @Test("an invalid project body is one 422 naming every field", arguments: [
        (#"{"key":"bad key","name":"x"}"#, ["key"]),
        (#"{"name":"x"}"#, ["key"]),
        (#"{"key":"ok","name":""}"#, ["name"]),
        (#"{"key":7,"name":null}"#, ["key", "name"]),
        (#"{"key":"\#(String(repeating: "k", count: 257))","name":"x"}"#, ["key"]),
        (#"{"key":"ok","name":"x","environments":[{"key":"a"},{"key":"a","name":"A"}]}"#,
            ["environments[0].name", "environments[1].key"]),
        (#"{"key":"ok","name":"x","environments":[1,{"key":"a b","name":""}]}"#,
            ["environments[0]", "environments[1].key", "environments[1].name"]),
        (#"{"key":"ok","name":"x","environments":"production"}"#, ["environments"]),
        (#"[1,2]"#, []),
    ])
    func projectValidation(body: String, paths: [String]) async throws {
        try await Self.app(role: .admin).test(.router) { client in
            let response = try await client.send(.post, "/api/v1/projects", body)
            #expect(response.status == .unprocessableContent)
            #expect(Self.json(response.body)["code"] == "validation_failed")
            #expect(RouterHarness.problemPaths(response.body) == paths)
            #expect(Self.json(try await client.send(.get, "/api/v1/projects").body)["items"] == [], "nothing is stored")
        }
    }

    @Test("PATCH a project: the key is immutable, the name required and non-empty", arguments: [
        (#"{"key":"other","name":"x"}"#, ["key"]),
        (#"{"key":null,"name":"x"}"#, ["key"]),
        (#"{}"#, ["name"]),
        (#"{"name":""}"#, ["name"]),
        (#"{"key":"q","name":7}"#, ["key", "name"]),
    ])
    func projectPatchValidation(body: String, paths: [String]) async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(.patch, "/api/v1/projects/p", body)
            #expect(response.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(response.body) == paths)
            #expect(Self.json(try await client.send(.get, "/api/v1/projects/p").body)["name"] == "P")
        }
    }

    @Test("a body that is not JSON is 400 (with the position), one above 1 MiB 413")
    func malformedBodies() async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let syntax = try await client.send(.post, "/api/v1/projects", #"{"key": "x",}"#)
            #expect(syntax.status == .badRequest)
            #expect(Self.json(syntax.body)["code"] == "bad_request")
            #expect(Self.json(syntax.body)["message"]?.stringValue?.contains("line 1") == true)
            for (method, uri) in [
                (HTTPRequest.Method.patch, "/api/v1/projects/p"), (.post, "/api/v1/projects/p/environments"),
                (.patch, "/api/v1/projects/p/environments/production"),
                (.post, "/api/v1/projects/p/environments/production/keys/sdk/rotate"),
            ] {
                let response = try await client.send(method, uri, "{")
                #expect(response.status == .badRequest, "\(method) \(uri)")
                #expect(Self.json(response.body)["code"] == "bad_request")
            }
            let empty = try await client.send(.post, "/api/v1/projects")
            #expect(empty.status == .badRequest)
            let big = "{\"name\":\"" + String(repeating: "x", count: 1 << 20) + "\"}"
            let tooLarge = try await client.send(.patch, "/api/v1/projects/p", big)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(Self.json(tooLarge.body)["code"] == "payload_too_large")
        }
    }

    // MARK: Environments

    @Test("environments: create (secure mode), list, show, update, delete; 409 for a taken key")
    func environmentLifecycle() async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let created = try await client.send(.post, "/api/v1/projects/p/environments",
                #"{"key":"staging","name":"Staging","secureMode":true}"#)
            #expect(created.status == .created)
            let staging = Self.json(created.body)
            #expect(Self.fields(staging) == Self.environmentFields)
            #expect(staging["secureMode"] == true && staging["version"] == 1 && staging["projectKey"] == "p")
            let plain = try await client.send(.post, "/api/v1/projects/p/environments", #"{"key":"dev","name":"Dev","secureMode":null}"#)
            #expect(Self.json(plain.body)["secureMode"] == false)
            let taken = try await client.send(.post, "/api/v1/projects/p/environments", #"{"key":"staging","name":"Again"}"#)
            #expect(taken.status == .conflict)

            let list = Self.json(try await client.send(.get, "/api/v1/projects/p/environments").body)
            #expect(list["items"]?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["dev", "production", "staging", "test"])

            let updated = try await client.send(.patch, "/api/v1/projects/p/environments/staging",
                #"{"key":"staging","name":"Stage","secureMode":false}"#)
            #expect(updated.status == .ok)
            let after = Self.json(updated.body)
            #expect(after["name"] == "Stage" && after["secureMode"] == false && after["version"] == 2)
            #expect(after["sdkKey"] == staging["sdkKey"] && after["mobileKey"] == staging["mobileKey"])
            let unchanged = Self.json(try await client.send(.patch, "/api/v1/projects/p/environments/staging",
                #"{"name":null,"secureMode":null}"#).body)
            #expect(unchanged["name"] == "Stage" && unchanged["secureMode"] == false)
            #expect(Self.json(try await client.send(.get, "/api/v1/projects/p/environments/staging").body)["name"] == "Stage")

            #expect(try await client.send(.delete, "/api/v1/projects/p/environments/staging").status == .noContent)
            #expect(try await client.send(.get, "/api/v1/projects/p/environments/staging").status == .notFound)
            #expect(try await client.send(.delete, "/api/v1/projects/p/environments/staging").status == .notFound)
        }
    }

    @Test("an invalid environment body is one 422 naming every field", arguments: [
        (#"{}"#, ["key", "name"]),
        (#"{"key":"a/b","name":"A"}"#, ["key"]),
        (#"{"key":"a","name":"A","secureMode":"yes"}"#, ["secureMode"]),
        (#"{"key":"a","name":"A","secureMode":1}"#, ["secureMode"]),
        (#""staging""#, []),
    ])
    func environmentValidation(body: String, paths: [String]) async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(.post, "/api/v1/projects/p/environments", body)
            #expect(response.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(response.body) == paths)
        }
    }

    @Test("PATCH an environment: the key is immutable, keys are the server's, secureMode is a boolean", arguments: [
        (#"{"key":"other"}"#, ["key"]),
        (#"{"sdkKey":"sdk-mine"}"#, ["sdkKey"]),
        (#"{"sdkKey":null,"mobileKey":"m","clientSideId":"c"}"#, ["sdkKey", "mobileKey", "clientSideId"]),
        (#"{"secureMode":"true"}"#, ["secureMode"]),
        (#"{"secureMode":0}"#, ["secureMode"]),
        (#"{"name":""}"#, ["name"]),
        (#"{"key":"x","name":5,"secureMode":[],"mobileKey":"m"}"#, ["key", "name", "secureMode", "mobileKey"]),
    ])
    func environmentPatchValidation(body: String, paths: [String]) async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(.patch, "/api/v1/projects/p/environments/production", body)
            #expect(response.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(response.body) == paths)
            #expect(Self.json(try await client.send(.get, "/api/v1/projects/p/environments/production").body)["version"] == 1)
        }
    }

    // MARK: Key rotation

    @Test("rotation: a new key; with a grace period the old one is retired until it expires; kinds are sdk and mobile")
    func rotation() async throws {
        let clock = Clock()
        let repository = try await Self.seeded(clock: clock)
        try await Self.app(role: .admin, repository: repository).test(.router) { client in
            let before = Self.json(try await client.send(.get, "/api/v1/projects/p/environments/production").body)
            let oldSDK = try #require(before["sdkKey"]?.stringValue)
            let response = try await client.send(.post, "/api/v1/projects/p/environments/production/keys/sdk/rotate",
                #"{"expireOldAfterSeconds":3600}"#)
            #expect(response.status == .ok)
            let rotated = Self.json(response.body)
            #expect(rotated["sdkKey"]?.stringValue?.hasPrefix("sdk-") == true && rotated["sdkKey"]?.stringValue != oldSDK)
            #expect(rotated["mobileKey"] == before["mobileKey"] && rotated["clientSideId"] == before["clientSideId"])
            #expect(rotated["version"] == 2)
            let start = clock.millis.withLock { $0 }
            #expect(rotated["retiredKeys"] == [["kind": "sdk", "key": .string(oldSDK), "expiresAt": .number(Double(start + 3_600_000))]])

            // Without a body (or with 0) the old mobile key stops at once: nothing retired.
            let oldMobile = try #require(before["mobileKey"]?.stringValue)
            let mobile = Self.json(try await client.send(.post, "/api/v1/projects/p/environments/production/keys/mobile/rotate").body)
            #expect(mobile["mobileKey"]?.stringValue?.hasPrefix("mob-") == true && mobile["mobileKey"]?.stringValue != oldMobile)
            #expect(mobile["retiredKeys"]?.arrayValue?.map { $0["kind"] } == ["sdk"])
            #expect(mobile["version"] == 3)
            let zero = Self.json(try await client.send(.post, "/api/v1/projects/p/environments/production/keys/mobile/rotate",
                #"{"expireOldAfterSeconds":0}"#).body)
            #expect(zero["retiredKeys"]?.arrayValue?.count == 1)
            let null = try await client.send(.post, "/api/v1/projects/p/environments/production/keys/mobile/rotate",
                #"{"expireOldAfterSeconds":null}"#)
            #expect(null.status == .ok)

            // A year at most; when the grace period is over, the retired key is gone.
            let year = Self.json(try await client.send(.post, "/api/v1/projects/p/environments/test/keys/sdk/rotate",
                #"{"expireOldAfterSeconds":31536000}"#).body)
            #expect(year["retiredKeys"]?.arrayValue?.first?["expiresAt"] == .number(Double(start + 31_536_000_000)))
            clock.advance(seconds: 3600)
            let expired = Self.json(try await client.send(.get, "/api/v1/projects/p/environments/production").body)
            #expect(expired["retiredKeys"] == [])
            let graced = Self.json(try await client.send(.get, "/api/v1/projects/p/environments/test").body)
            #expect(graced["retiredKeys"]?.arrayValue?.count == 1)

            for kind in ["admin", "SDK", "client"] {
                let unknown = try await client.send(.post, "/api/v1/projects/p/environments/production/keys/\(kind)/rotate", "{}")
                #expect(unknown.status == .notFound, "\(kind)")
                #expect(Self.json(unknown.body)["code"] == "not_found")
            }
        }
    }

    @Test("expireOldAfterSeconds is an integer within 0...31536000", arguments: [
        #"{"expireOldAfterSeconds":-1}"#, #"{"expireOldAfterSeconds":31536001}"#, #"{"expireOldAfterSeconds":1.5}"#,
        #"{"expireOldAfterSeconds":"60"}"#, #"{"expireOldAfterSeconds":true}"#, #"{"expireOldAfterSeconds":[60]}"#,
    ])
    func rotationBounds(body: String) async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(.post, "/api/v1/projects/p/environments/production/keys/sdk/rotate", body)
            #expect(response.status == .unprocessableContent)
            #expect(RouterHarness.problemPaths(response.body) == ["expireOldAfterSeconds"])
            #expect(Self.json(try await client.send(.get, "/api/v1/projects/p/environments/production").body)["version"] == 1,
                "nothing rotated")
        }
    }

    @Test("a rotation body that is JSON but not an object is 422; unknown project or environment 404")
    func rotationRequests() async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            for body in ["null", "[]", "3600"] {
                let response = try await client.send(.post, "/api/v1/projects/p/environments/production/keys/sdk/rotate", body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(RouterHarness.problemPaths(response.body) == [])
            }
            #expect(try await client.send(.post, "/api/v1/projects/p/environments/nope/keys/sdk/rotate").status == .notFound)
            #expect(try await client.send(.post, "/api/v1/projects/nope/environments/production/keys/sdk/rotate").status == .notFound)
        }
    }

    // MARK: Data, 404s, roles

    @Test("data: the environment's SDK payload (empty in memory)")
    func data() async throws {
        try await Self.app(role: .reader, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(.get, "/api/v1/projects/p/environments/test/data")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(Self.json(response.body) == ["flags": [:], "segments": [:]])
        }
    }

    @Test("an unknown project or environment is 404, saying which", arguments: [
        (HTTPRequest.Method.get, "/api/v1/projects/nope", "", "project"),
        (.patch, "/api/v1/projects/nope", #"{"name":"x"}"#, "project"),
        (.delete, "/api/v1/projects/nope", "", "project"),
        (.get, "/api/v1/projects/nope/environments", "", "project"),
        (.post, "/api/v1/projects/nope/environments", #"{"key":"e","name":"E"}"#, "project"),
        (.get, "/api/v1/projects/nope/environments/production", "", "project"),
        (.get, "/api/v1/projects/p/environments/nope", "", "environment"),
        (.patch, "/api/v1/projects/p/environments/nope", #"{"name":"x"}"#, "environment"),
        (.delete, "/api/v1/projects/p/environments/nope", "", "environment"),
        (.post, "/api/v1/projects/p/environments/nope/keys/mobile/rotate", "", "environment"),
        (.get, "/api/v1/projects/p/environments/nope/data", "", "environment"),
        (.get, "/api/v1/projects/nope/environments/production/data", "", "project"),
    ])
    func notFound(method: HTTPRequest.Method, uri: String, body: String, what: String) async throws {
        try await Self.app(role: .admin, repository: try await Self.seeded()).test(.router) { client in
            let response = try await client.send(method, uri, body)
            #expect(response.status == .notFound)
            let error = Self.json(response.body)
            #expect(error["code"] == "not_found")
            #expect(error["message"]?.stringValue?.hasPrefix("\(what) \"nope\" does not exist") == true, "\(error)")
        }
    }

    @Test("readers GET everything with keys masked; writers see keys whole")
    func keysByRole() async throws {
        let clock = Clock()
        let repository = try await Self.seeded(clock: clock)
        let admin = Identity(tokenID: "t", name: "seed", role: .admin)
        let rotated = try await repository.rotateKey(
            projectKey: "p", environmentKey: "production", kind: .sdk, rotation: KeyRotation(expireOldAfterSeconds: 60), actor: admin)
        let retired = try #require(rotated.retiredKeys.first?.key)
        for role in [Role.reader, .writer] {
            try await Self.app(role: role, repository: repository).test(.router) { client in
                let single = Self.json(try await client.send(.get, "/api/v1/projects/p/environments/production").body)
                let listed = Self.json(try await client.send(.get, "/api/v1/projects/p/environments").body)["items"]?.arrayValue?.first
                let nested = Self.json(try await client.send(.get, "/api/v1/projects/p").body)["environments"]?.arrayValue?.first
                for environment in [single, listed, nested] {
                    let sdkKey = try #require(environment?["sdkKey"]?.stringValue)
                    let mobileKey = try #require(environment?["mobileKey"]?.stringValue)
                    let retiredKey = try #require(environment?["retiredKeys"]?[0]?["key"]?.stringValue)
                    if role == .reader {
                        #expect(sdkKey == "sdk-…" + rotated.sdkKey.suffix(4))
                        #expect(mobileKey == "mob-…" + rotated.mobileKey.suffix(4))
                        #expect(retiredKey == "sdk-…" + retired.suffix(4))
                    } else {
                        #expect(sdkKey == rotated.sdkKey && mobileKey == rotated.mobileKey && retiredKey == retired)
                    }
                    #expect(environment?["clientSideId"]?.stringValue == rotated.clientSideId, "the client-side id is public")
                }
                #expect(try await client.send(.get, "/api/v1/projects").status == .ok)
                #expect(try await client.send(.get, "/api/v1/projects/p/environments/production/data").status == .ok)
            }
        }
    }

    @Test("projects, environments and keys are admin's: readers and writers get 403", arguments: [Role.reader, .writer])
    func adminOnly(role: Role) async throws {
        let repository = try await Self.seeded()
        try await Self.app(role: role, repository: repository).test(.router) { client in
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/api/v1/projects", #"{"key":"q","name":"Q"}"#),
                (.patch, "/api/v1/projects/p", #"{"name":"x"}"#), (.delete, "/api/v1/projects/p", ""),
                (.post, "/api/v1/projects/p/environments", #"{"key":"e","name":"E"}"#),
                (.patch, "/api/v1/projects/p/environments/production", #"{"name":"x"}"#),
                (.delete, "/api/v1/projects/p/environments/production", ""),
                (.post, "/api/v1/projects/p/environments/production/keys/sdk/rotate", "{}"),
                (.post, "/api/v1/projects/p/environments/production/keys/mobile/rotate", ""),
                // The role is checked before anything else: even an invalid body or an unknown kind is 403.
                (.post, "/api/v1/projects", "[]"), (.post, "/api/v1/projects/p/environments/production/keys/admin/rotate", ""),
            ] {
                let response = try await client.send(method, uri, body)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(Self.json(response.body)["code"] == "forbidden")
            }
        }
        #expect(try await repository.projects().map(\.name) == ["P"])
        #expect(try await repository.environments(projectKey: "p").map(\.version) == [1, 1], "nothing changed")
    }
}
