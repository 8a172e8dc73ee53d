import Foundation
import Hummingbird
import ModelsCore
import PostgresNIO
import ServiceKit

/// The API routes the dashboard needs beyond the resources (documented in docs/api.md):
/// * `GET /api/v1/me`: who the token is (`{id, name, role}`), so the dashboard shows a reader no write controls;
/// * `GET /api/v1/audit/latest`: the id of the newest audit entry, with `ETag` and `304` on `If-None-Match`.
///   Every mutation writes an audit entry (API calls, scheduled changes, rollout steps), so a page polls this
///   once a second and reloads its data only when it moved: live updates at the price of one indexed lookup;
/// * `GET /api/v1/projects/{p}/environments/{e}/flags`: every flag of the project with the targeting of one
///   environment only, built as JSON by PostgreSQL (the flag list page: 1,000 flags in a few milliseconds, where the
///   full list with every environment is parsed and re-encoded flag by flag);
/// * `GET /api/v1/projects/{p}/environments/{e}/flag-evaluations`: every flag's last evaluation and staleness in one
///   environment (the flag list shows both for every flag, which `?stale=` alone does not give).
struct DashboardAPIRoutes: Sendable {
    let store: ManagementStore
    /// `VANE_STALE_DAYS`.
    let staleDays: Int

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.get("me") { _, context in
            let identity = try context.require(.reader)
            return JSONBody.response([
                "id": .string(identity.tokenID), "name": .string(identity.name), "role": .string(identity.role.rawValue),
            ])
        }
        api.get("projects/:project/environments/:environment/flag-evaluations") { [store, staleDays] _, context in
            _ = try context.require(.reader)
            let summary = try await store.evaluationSummary(
                projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
                staleDays: staleDays)
            let encoder = JSONEncoder()
            var items: [JSONValue] = []
            for (key, entry) in summary.sorted(by: { $0.key < $1.key }) {
                let stale = try entry.stale.map { try JSONDecoder().decode(JSONValue.self, from: encoder.encode($0)) } ?? .null
                items.append(["key": .string(key), "lastEvaluatedAt": entry.lastEvaluatedAt.map(JSONValue.string) ?? .null, "stale": stale])
            }
            return JSONBody.response(["items": .array(items), "staleDays": .number(Double(staleDays))])
        }
        api.get("projects/:project/environments/:environment/flags") { [store] _, context in
            _ = try context.require(.reader)
            let text = try await store.flagsOfEnvironment(
                projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"))
            return JSONBody.response(Array("{\"items\":".utf8) + Array(text.utf8) + Array("}".utf8))
        }
        api.get("audit/latest") { [store] request, context in
            _ = try context.require(.reader)
            let latest = try await store.latestAuditID()
            let etag = "\"\(latest.map(String.init) ?? "0")\""
            var headers: HTTPFields = [.eTag: etag, .cacheControl: "no-cache"]
            if let match = request.headers[.ifNoneMatch], DashboardRoutes.matches(match, etag) {
                headers[.contentType] = "application/json"
                return Response(status: .notModified, headers: headers)
            }
            return JSONBody.response(["id": latest.map { .number(Double($0)) } ?? .null], headers: headers)
        }
    }
}

extension ManagementStore {
    /// The project's flags as `GET …/flags` shows them, by key, with only environment `environmentKey` under
    /// `environments`: one JSON array text made by PostgreSQL from the stored settings and targeting (which are the API's
    /// shapes already).
    func flagsOfEnvironment(projectKey: String, environmentKey: String) async throws -> String {
        try await client.withConnection { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            let rows = try await connection.query(
                """
                SELECT coalesce(json_agg(
                    f.settings || jsonb_build_object(
                        'key', f.key, 'salt', f.salt,
                        'createdAt', \(unescaped: SQL.timestamp("f.created_at")), 'updatedAt', \(unescaped: SQL.timestamp("f.updated_at")),
                        'environments', jsonb_build_object(
                            \(environmentKey)::text, t.targeting || jsonb_build_object('salt', f.salt, 'version', t.version)))
                    ORDER BY f.key), '[]')::text
                FROM flags f JOIN flag_targeting t ON t.flag_id = f.id AND t.environment_id = \(environment.id)
                WHERE f.project_id = \(environment.projectID)
                """, logger: logger)
            for try await text in rows.decode(String.self) { return text }
            return "[]"
        }
    }

    /// The id of the newest audit entry (nil when there is none).
    func latestAuditID() async throws -> Int64? {
        let rows = try await client.query("SELECT max(id) FROM audit_log", logger: logger)
        for try await id in rows.decode(Int64?.self) { return id }
        return nil
    }
}
