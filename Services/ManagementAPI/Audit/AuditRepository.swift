import Foundation
import ModelsCore
import Synchronization

/// Where the audit log is read. Entries are written by the mutations themselves, inside their transactions
/// (`PostgresConnection.audit`), so the log has no write API.
protocol AuditRepository: Sendable {
    /// Entries matching `query`, newest first, at most `query.limit`, after `query.cursor`.
    func page(_ query: AuditQuery) async throws -> AuditPage
}

/// An audit log in memory, for fast tests of the route and its paging; entries are added with
/// ``record(actor:action:resource:before:after:comment:at:)``.
final class InMemoryAuditRepository: AuditRepository {
    private struct State {
        var entries: [AuditEntry] = []
        var lastID: Int64 = 0
        var clock = InMemoryClock()
    }

    private let state = Mutex(State())

    init() {}

    /// Appends an entry; ids count up from 1. `at` defaults to the next time of an ``InMemoryClock`` (distinct,
    /// ordered times).
    @discardableResult
    func record(
        actor: String = "token:tester", action: String, resource: String, before: JSONValue = .null, after: JSONValue = .null,
        comment: String? = nil, at: String? = nil
    ) -> AuditEntry {
        state.withLock { state in
            state.lastID += 1
            let time = at ?? state.clock.next()
            let entry = AuditEntry(
                id: state.lastID, at: time, actor: actor, action: action, resource: resource, before: before, after: after,
                comment: comment)
            state.entries.append(entry)
            return entry
        }
    }

    func page(_ query: AuditQuery) async throws -> AuditPage {
        state.withLock { state in
            let matching = state.entries.reversed().lazy
                .filter { entry in query.cursor.map { entry.id < $0 } ?? true }
                .filter(query.matches)
            return AuditPage(entries: Array(matching.prefix(query.limit + 1)), limit: query.limit)
        }
    }
}
