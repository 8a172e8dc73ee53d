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

/// `/api/v1/tokens` against the router with the in-memory repository: status codes, JSON shapes, validation and roles,
/// without PostgreSQL or a process. (Authentication itself, revocation across replicas and the audit entries are
/// SQL's: AccessTests.)
@Suite("tokens: controller and validation (in memory)")
struct TokensControllerTests {
    final class Revocations: Sendable {
        let count = Mutex(0)
    }

    static func app(role: Role, repository: InMemoryTokenRepository, revocations: Revocations = Revocations()) -> some ApplicationProtocol {
        RouterHarness.app(role: role) { api in
            TokensController(repository: repository, revoked: { revocations.count.withLock { $0 += 1 } }).addRoutes(to: api)
        }
    }

    static func json(_ buffer: ByteBuffer) -> JSONValue { RouterHarness.json(buffer) }

    @Test("create answers 201 with the secret once; the list never shows it; delete revokes (204, then 404)")
    func lifecycle() async throws {
        let repository = InMemoryTokenRepository()
        let revocations = Revocations()
        try await Self.app(role: .admin, repository: repository, revocations: revocations).test(.router) { client in
            let created = try await client.execute(
                uri: "/api/v1/tokens", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"name":"ci","role":"writer"}"#))
            #expect(created.status == .created)
            let token = Self.json(created.body)
            #expect(token["name"]?.stringValue == "ci")
            #expect(token["role"]?.stringValue == "writer")
            #expect(token["createdBy"]?.stringValue == "token:tester")
            #expect(token["token"]?.stringValue?.hasPrefix("vane-") == true)
            let id = try #require(token["id"]?.stringValue)
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(token["createdAt"]?.stringValue.flatMap(rfc3339UnixMilliseconds) != nil)

            let list = try await client.execute(uri: "/api/v1/tokens", method: .get)
            #expect(list.status == .ok)
            let items = Self.json(list.body)["items"]?.arrayValue ?? []
            #expect(items.count == 1)
            #expect(items.first?["token"] == nil, "the list never shows a secret")
            #expect(items.first?["id"]?.stringValue == id)

            let deleted = try await client.execute(uri: "/api/v1/tokens/\(id)", method: .delete)
            #expect(deleted.status == .noContent)
            #expect(revocations.count.withLock { $0 } == 1, "a revocation invalidates the authenticator's cache")
            let again = try await client.execute(uri: "/api/v1/tokens/\(id)", method: .delete)
            #expect(again.status == .notFound)
            #expect(Self.json(again.body)["code"]?.stringValue == "not_found")
            #expect(revocations.count.withLock { $0 } == 1)
        }
    }

    @Test("every problem of the body is one 422 naming its field", arguments: [
        (#"{}"#, ["name", "role"]),
        (#"{"name":"","role":"owner"}"#, ["name", "role"]),
        (#"{"name":7,"role":1}"#, ["name", "role"]),
        (#"{"name":"x"}"#, ["role"]),
        (#"[1]"#, []),
    ])
    func validation(body: String, paths: [String]) async throws {
        try await Self.app(role: .admin, repository: InMemoryTokenRepository()).test(.router) { client in
            let response = try await client.execute(
                uri: "/api/v1/tokens", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .unprocessableContent)
            let error = Self.json(response.body)
            #expect(error["code"]?.stringValue == "validation_failed")
            let named = (error["details"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
            #expect(named == paths)
        }
    }

    @Test("a body that is not JSON is 400; another media type is 415; a non-UUID id is 404")
    func malformedRequests() async throws {
        try await Self.app(role: .admin, repository: InMemoryTokenRepository()).test(.router) { client in
            let notJSON = try await client.execute(
                uri: "/api/v1/tokens", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{"))
            #expect(notJSON.status == .badRequest)
            let form = try await client.execute(
                uri: "/api/v1/tokens", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "name=x"))
            #expect(form.status == .unsupportedMediaType)
            let badID = try await client.execute(uri: "/api/v1/tokens/not-a-uuid", method: .delete)
            #expect(badID.status == .notFound)
            let unknown = try await client.execute(uri: "/api/v1/tokens/\(UUID().uuidString)", method: .delete)
            #expect(unknown.status == .notFound)
        }
    }

    @Test("tokens are admin-only: a writer gets 403 on every operation", arguments: [Role.reader, .writer])
    func adminOnly(role: Role) async throws {
        try await Self.app(role: role, repository: InMemoryTokenRepository()).test(.router) { client in
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/api/v1/tokens", #"{"name":"x","role":"reader"}"#), (.get, "/api/v1/tokens", ""),
                (.delete, "/api/v1/tokens/\(UUID().uuidString)", ""),
            ] {
                let response = try await client.execute(
                    uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .forbidden, "\(method) \(uri)")
                #expect(Self.json(response.body)["code"]?.stringValue == "forbidden")
            }
        }
    }
}
