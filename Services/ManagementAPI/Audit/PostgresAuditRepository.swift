import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// ``AuditRepository`` on PostgreSQL (`audit_log`, through ``ManagementStore``).
struct PostgresAuditRepository: AuditRepository {
    let store: ManagementStore

    func page(_ query: AuditQuery) async throws -> AuditPage {
        let prefix = query.resource.flatMap { $0.hasSuffix("*") ? String($0.dropLast()) : nil }
        let exact = query.resource.flatMap { $0.hasSuffix("*") ? nil : $0 }
        // LIKE's wildcards in the prefix are literal characters of resource names.
        let likePattern = prefix.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%" }
        let rows = try await store.client.query(
            """
            SELECT id, \(unescaped: SQL.timestamp("at")), actor, action, resource, before::text, after::text, comment FROM audit_log
            WHERE (\(exact)::text IS NULL OR resource = \(exact ?? ""))
              AND (\(likePattern)::text IS NULL OR resource LIKE \(likePattern ?? ""))
              AND (\(query.since)::timestamptz IS NULL OR at >= \(query.since)::timestamptz)
              AND (\(query.until)::timestamptz IS NULL OR at < \(query.until)::timestamptz)
              AND (\(query.cursor)::bigint IS NULL OR id < \(query.cursor)::bigint)
            ORDER BY id DESC LIMIT \(query.limit + 1)
            """, logger: store.logger)
        var entries: [AuditEntry] = []
        for try await (id, at, actor, action, resource, before, after, comment)
            in rows.decode((Int64, String, String, String, String, String?, String?, String?).self)
        {
            entries.append(AuditEntry(
                id: id, at: at, actor: actor, action: action, resource: resource,
                before: try before.map { try JSONParser.parse($0) } ?? .null, after: try after.map { try JSONParser.parse($0) } ?? .null,
                comment: comment))
        }
        return AuditPage(entries: entries, limit: query.limit)
    }
}
