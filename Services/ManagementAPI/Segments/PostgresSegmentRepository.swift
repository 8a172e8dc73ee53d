import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// ``SegmentRepository`` on PostgreSQL (`segments`, through ``ManagementStore``). Each mutation is one transaction
/// with its audit entry and its `vane.config` outbox record, under the environment's advisory lock: whether a
/// definition is valid depends on the environment's other segments (references, cycles), which row locks alone
/// do not cover.
struct PostgresSegmentRepository: SegmentRepository {
    let store: ManagementStore

    private var logger: Logger { store.logger }

    private typealias Row = ManagementStore.SegmentRow

    private static func resource(_ row: Row) -> SegmentResource {
        SegmentResource(key: row.key, definition: row.definition, version: row.version, createdAt: row.createdAt, updatedAt: row.updatedAt)
    }

    private func environment(_ projectKey: String, _ environmentKey: String, _ connection: PostgresConnection) async throws -> Environment {
        try await store.environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
    }

    private static func missing(_ key: String, _ environmentKey: String) -> RepositoryError {
        .notFound("segment \"\(key)\" does not exist in environment \"\(environmentKey)\"")
    }

    func list(projectKey: String, environmentKey: String) async throws -> [SegmentResource] {
        try await store.client.withConnection { connection in
            let environment = try await environment(projectKey, environmentKey, connection)
            return try await store.segmentRows(environmentID: environment.id, key: nil, lock: false, connection: connection)
                .map(Self.resource)
        }
    }

    func segment(projectKey: String, environmentKey: String, key: String) async throws -> SegmentResource {
        try await store.client.withConnection { connection in
            let environment = try await environment(projectKey, environmentKey, connection)
            guard let row = try await store.segmentRows(environmentID: environment.id, key: key, lock: false, connection: connection).first
            else { throw Self.missing(key, environmentKey) }
            return Self.resource(row)
        }
    }

    func put(
        projectKey: String, environmentKey: String, key: String, draft: SegmentDraft, precondition: WritePrecondition,
        comment: String?, actor: Identity
    ) async throws -> SegmentPutResult {
        try await store.transaction { connection in
            let environment = try await environment(projectKey, environmentKey, connection)
            try await connection.lockEnvironment(environment.id, logger: logger)
            let existing = try await store.segmentRows(environmentID: environment.id, key: key, lock: true, connection: connection).first
            try precondition.check(stored: existing?.version, subject: "segment \"\(key)\"")
            let definition = draft.definition(existingSalt: existing?.definition.segment.salt)
            var others: [String: SegmentDefinition] = [:]
            for row in try await store.segmentRows(environmentID: environment.id, key: nil, lock: false, connection: connection) {
                others[row.key] = row.definition
            }
            do throws(ValidationError) {
                try definition.validate(others: others)
            } catch {
                throw RepositoryError.invalid(error)
            }

            let version: Int
            if let existing {
                version = existing.version + 1
                try await connection.query(
                    """
                    UPDATE segments SET definition = \(JSONWriter.string(definition.json))::jsonb, version = \(version), updated_at = now()
                    WHERE environment_id = \(environment.id) AND key = \(key)
                    """, logger: logger)
            } else {
                version = try await connection.tombstoneVersion(environmentID: environment.id, kind: .segment, key: key, logger: logger) + 1
                try await connection.query(
                    """
                    INSERT INTO segments (id, environment_id, key, definition, version)
                    VALUES (\(UUID()), \(environment.id), \(key), \(JSONWriter.string(definition.json))::jsonb, \(version))
                    """, logger: logger)
            }
            var published = definition.segment
            published.version = version
            try await connection.enqueue(
                ConfigRecord(kind: .segment, environmentID: environment.id.uuidString.lowercased(), key: key, version: version,
                             data: try JSONParser.parse(published.jsonBytes)), logger: logger)
            guard let row = try await store.segmentRows(environmentID: environment.id, key: key, lock: false, connection: connection).first
            else { throw RepositoryError.notFound("segment vanished") }
            let segment = Self.resource(row)
            try await connection.audit(
                actor: actor, action: existing == nil ? "segment.create" : "segment.update",
                resource: SegmentResource.resource(projectKey: projectKey, environmentKey: environmentKey, key: key),
                before: try existing.map { try Self.resource($0).json }, after: try segment.json, comment: comment, logger: logger)
            return SegmentPutResult(segment: segment, created: existing == nil)
        }
    }

    func delete(
        projectKey: String, environmentKey: String, key: String, precondition: WritePrecondition, comment: String?, actor: Identity
    ) async throws {
        try await store.transaction { connection in
            let environment = try await environment(projectKey, environmentKey, connection)
            try await connection.lockEnvironment(environment.id, logger: logger)
            let locked = try await store.segmentRows(environmentID: environment.id, key: key, lock: true, connection: connection)
            guard let existing = locked.first else { throw Self.missing(key, environmentKey) }
            try precondition.check(stored: existing.version, subject: "segment \"\(key)\"")
            let users = try await connection.query(
                """
                SELECT f.key FROM flag_targeting t JOIN flags f ON f.id = t.flag_id
                WHERE t.environment_id = \(environment.id) AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(t.targeting->'rules') r, jsonb_array_elements(r->'clauses') c
                    WHERE c->>'op' = 'segmentMatch' AND c->'values' ? \(key))
                UNION
                SELECT 'segment ' || s.key FROM segments s
                WHERE s.environment_id = \(environment.id) AND s.key <> \(key) AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(s.definition->'rules') r, jsonb_array_elements(r->'clauses') c
                    WHERE c->>'op' = 'segmentMatch' AND c->'values' ? \(key))
                """, logger: logger)
            var referrers: [String] = []
            for try await referrer in users.decode(String.self) { referrers.append(referrer) }
            if !referrers.isEmpty {
                throw RepositoryError.conflict(
                    "segment \"\(key)\" is used by \(referrers.sorted().joined(separator: ", ")); remove those references first")
            }
            let version = existing.version + 1
            try await connection.query("DELETE FROM segments WHERE environment_id = \(environment.id) AND key = \(key)", logger: logger)
            try await connection.recordTombstone(environmentID: environment.id, kind: .segment, key: key, version: version, logger: logger)
            try await connection.enqueue(
                ConfigRecord(kind: .segment, environmentID: environment.id.uuidString.lowercased(), key: key, version: version, data: nil),
                logger: logger)
            try await connection.audit(
                actor: actor, action: "segment.delete",
                resource: SegmentResource.resource(projectKey: projectKey, environmentKey: environmentKey, key: key),
                before: try Self.resource(existing).json, after: nil, comment: comment, logger: logger)
        }
    }
}
