import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelsCore
import NIOCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// `GET /api/v1/audit` against the router with the in-memory repository: the query's validation, paging with the
/// cursor, the filters and the entry's shape. (That every real mutation writes its entry in its own transaction is
/// SQL's: ConsistencyTests, ResourceTests.)
@Suite("audit: controller and query validation (in memory)")
struct AuditControllerTests {
    static func app(role: Role = .reader, repository: InMemoryAuditRepository) -> some ApplicationProtocol {
        RouterHarness.app(role: role) { api in AuditController(repository: repository).addRoutes(to: api) }
    }

    static func json(_ buffer: ByteBuffer) -> JSONValue { RouterHarness.json(buffer) }

    /// Fetches `query` and answers the actions of the page and its cursor.
    static func page(_ client: some TestClientProtocol, _ query: String) async throws -> (actions: [String], next: JSONValue?) {
        let response = try await client.send(.get, "/api/v1/audit\(query)")
        #expect(response.status == .ok, "\(query)")
        let page = json(response.body)
        return (page["items"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? [], page["nextCursor"])
    }

    /// The actions of the page that `query` answers.
    static func actions(_ client: some TestClientProtocol, _ query: String) async throws -> [String] {
        try await page(client, query).actions
    }

    @Test("every invalid parameter is named in one 422", arguments: [
        ("?since=yesterday", ["since"]),
        ("?until=", ["until"]),
        ("?since=2026-13-01T00:00:00Z&until=2026-01-01", ["since", "until"]),
        ("?limit=0", ["limit"]),
        ("?limit=501", ["limit"]),
        ("?limit=ten", ["limit"]),
        ("?limit=", ["limit"]),
        ("?cursor=abc", ["cursor"]),
        ("?cursor=", ["cursor"]),
        ("?since=x&until=y&limit=-1&cursor=z&resource=r", ["since", "until", "limit", "cursor"]),
    ])
    func invalidQueries(query: String, paths: [String]) async throws {
        try await Self.app(repository: InMemoryAuditRepository()).test(.router) { client in
            let response = try await client.send(.get, "/api/v1/audit\(query)")
            #expect(response.status == .unprocessableContent)
            #expect(Self.json(response.body)["code"] == "validation_failed")
            #expect(RouterHarness.problemPaths(response.body) == paths)
        }
    }

    @Test("the parsed query: defaults, bounds, and the first of repeated parameters")
    func parsing() throws {
        #expect(try AuditQuery(queryItems: []) == AuditQuery())
        #expect(try AuditQuery(queryItems: []).limit == 50)
        #expect(try AuditQuery(queryItems: [("limit", "1")]).limit == 1)
        #expect(try AuditQuery(queryItems: [("limit", "500")]).limit == 500)
        #expect(try AuditQuery(queryItems: [("resource", ""), ("cursor", "9")]) == AuditQuery(cursor: 9))
        let query = try AuditQuery(queryItems: [
            ("resource", "proj/p:*"), ("since", "2026-01-01T00:00:00+01:00"), ("until", "2026-02-01T00:00:00.5Z"), ("limit", "7"),
            ("limit", "nope"),
        ])
        #expect(query == AuditQuery(
            resource: "proj/p:*", since: "2026-01-01T00:00:00+01:00", until: "2026-02-01T00:00:00.5Z", limit: 7, cursor: nil))
    }

    @Test("newest first, in pages continued with nextCursor (a string), null on the last page")
    func paging() async throws {
        let repository = InMemoryAuditRepository()
        for i in 1...7 { repository.record(action: "a\(i)", resource: "r") }
        try await Self.app(repository: repository).test(.router) { client in
            var actions: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await Self.page(client, "?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""))
                actions += page.actions
                pages += 1
                cursor = page.next?.stringValue
                #expect(page.next == .null || cursor?.allSatisfy(\.isNumber) == true)
            } while cursor != nil
            #expect(pages == 3)
            #expect(actions == (1...7).reversed().map { "a\($0)" })
            // Exactly `limit` entries left: the page is the last one.
            let all = try await Self.page(client, "?limit=7")
            let allButOne = try await Self.page(client, "?limit=6")
            #expect(all.next == .null && allButOne.next == "2")
        }
        let many = InMemoryAuditRepository()
        for i in 1...60 { many.record(action: "a\(i)", resource: "r") }
        try await Self.app(repository: many).test(.router) { client in
            let page = try await Self.page(client, "")
            #expect(page.actions.count == 50 && page.next == "11", "50 by default")
        }
    }

    @Test("filters: the exact resource or a prefix ending in *, since (inclusive) and until (exclusive)")
    func filters() async throws {
        let repository = InMemoryAuditRepository()
        repository.record(action: "project.create", resource: "proj/p", at: "2026-01-01T00:00:00.000Z")
        repository.record(action: "flag.create", resource: "proj/p:flag/f", at: "2026-01-02T00:00:00.000Z")
        repository.record(action: "segment.create", resource: "proj/p:env/e:segment/s", at: "2026-01-03T00:00:00.000Z")
        repository.record(action: "flag.create", resource: "proj/p_x:flag/f", at: "2026-01-04T00:00:00.000Z")
        try await Self.app(repository: repository).test(.router) { client in
            #expect(try await Self.actions(client, "?resource=proj/p") == ["project.create"])
            #expect(try await Self.actions(client, "?resource=proj/p:*") == ["segment.create", "flag.create"])
            #expect(try await Self.actions(client, "?resource=proj/p_*") == ["flag.create"], "_ is no wildcard")
            let unfiltered = try await Self.actions(client, "?resource=")
            #expect(unfiltered.count == 4, "an empty resource is no filter")
            #expect(try await Self.actions(client, "?since=2026-01-02T00:00:00Z") == ["flag.create", "segment.create", "flag.create"])
            #expect(try await Self.actions(client, "?until=2026-01-02T00:00:00Z") == ["project.create"])
            #expect(try await Self.actions(client, "?since=2026-01-02T01:00:00%2B01:00&until=2026-01-03T00:00:00.001Z")
                == ["segment.create", "flag.create"])
            #expect(try await Self.actions(client, "?since=2999-01-01T00:00:00Z") == [])
        }
    }

    @Test("an entry has every field, with explicit nulls; a reader may read the log")
    func shape() async throws {
        let repository = InMemoryAuditRepository()
        repository.record(action: "segment.create", resource: "proj/p:env/e:segment/s", after: ["key": "s", "version": 1])
        repository.record(action: "segment.delete", resource: "proj/p:env/e:segment/s", before: ["key": "s"], comment: "cleanup")
        try await Self.app(role: .reader, repository: repository).test(.router) { client in
            let response = try await client.send(.get, "/api/v1/audit")
            #expect(response.status == .ok)
            let page = Self.json(response.body)
            #expect(page["nextCursor"] == .null)
            let items = try #require(page["items"]?.arrayValue)
            #expect(items.map { Set($0.objectValue?.keys.map { $0 } ?? []) }.allSatisfy {
                $0 == ["id", "at", "actor", "action", "resource", "before", "after", "comment"]
            })
            #expect(items[0]["id"] == 2 && items[0]["comment"] == "cleanup")
            #expect(items[0]["after"] == .null && items[0]["before"] == ["key": "s"])
            #expect(items[1]["comment"] == .null && items[1]["before"] == .null && items[1]["after"]?["version"] == 1)
            #expect(items[1]["actor"] == "token:tester")
            // The Codable model reads what it writes.
            let decoded = try JSONDecoder().decode(AuditPage.self, from: Data(JSONWriter.string(page).utf8))
            #expect(decoded.items.map(\.id) == [2, 1] && decoded.nextCursor == nil && decoded.items[1].before == .null)
        }
    }
}
