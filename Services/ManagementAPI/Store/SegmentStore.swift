import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

extension ManagementStore {
    /// A stored segment: its definition, version and times.
    struct SegmentRow: Sendable {
        var key: String
        var definition: SegmentDefinition
        var version: Int
        var createdAt: String
        var updatedAt: String
    }

    /// The environment's segments (only `key`, when given), by key; `lock` locks the rows for update.
    func segmentRows(environmentID: UUID, key: String?, lock: Bool, connection: PostgresConnection) async throws -> [SegmentRow] {
        let rows = try await connection.query(
            """
            SELECT key, definition::text, version, \(unescaped: SQL.timestamp("created_at")), \(unescaped: SQL.timestamp("updated_at"))
            FROM segments WHERE environment_id = \(environmentID) AND (\(key)::text IS NULL OR key = \(key ?? ""))
            ORDER BY key \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        var result: [SegmentRow] = []
        for try await (key, text, version, created, updated) in rows.decode((String, String, Int, String, String).self) {
            result.append(SegmentRow(
                key: key, definition: try SegmentDefinition(stored: try JSONParser.parse(text), key: key), version: version,
                createdAt: created, updatedAt: updated))
        }
        return result
    }

    /// The environment's flags and segments exactly as SDKs receive them (`/sdk/latest-all`).
    func payload(environmentID: UUID, connection: PostgresConnection) async throws -> PollingPayload {
        var payload = PollingPayload()
        let flags = try await connection.query(
            """
            SELECT f.key, f.settings::text, f.salt, t.targeting::text, t.version FROM flag_targeting t
            JOIN flags f ON f.id = t.flag_id WHERE t.environment_id = \(environmentID)
            """, logger: logger)
        for try await (key, settingsText, salt, targetingText, version) in flags.decode((String, String, String, String, Int).self) {
            let settings = try FlagSettings(json: try JSONParser.parse(settingsText))
            let targeting = try FeatureFlag(json: try JSONParser.parse(targetingText))
            payload.flags[key] = Targeting.sdkFlag(key: key, settings: settings, salt: salt, targeting: targeting, version: version)
        }
        for row in try await segmentRows(environmentID: environmentID, key: nil, lock: false, connection: connection) {
            var segment = row.definition.segment
            segment.version = row.version
            payload.segments[row.key] = segment
        }
        return payload
    }

    func payload(projectKey: String, environmentKey: String) async throws -> PollingPayload {
        try await client.withConnection { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            return try await payload(environmentID: environment.id, connection: connection)
        }
    }
}
