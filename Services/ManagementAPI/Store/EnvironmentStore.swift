import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

extension ManagementStore {
    private static let environmentColumns = """
        e.id, e.project_id, p.key, e.key, e.name, e.sdk_key, e.mobile_key, e.client_side_id, e.secure_mode, e.version, \
        \(SQL.timestamp("e.created_at")), \(SQL.timestamp("e.updated_at"))
        """

    func environments(projectKey: String) async throws -> [Environment] {
        let project = try await project(projectKey)
        return try await client.withConnection { connection in
            try await environmentRows(projectID: project.id, connection: connection)
        }
    }

    func environment(projectKey: String, key: String) async throws -> Environment {
        try await client.withConnection { connection in
            try await environmentRow(projectKey: projectKey, key: key, lock: false, connection: connection)
        }
    }

    func environmentRows(projectID: UUID, connection: PostgresConnection) async throws -> [Environment] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.environmentColumns) FROM environments e JOIN projects p ON p.id = e.project_id
            WHERE e.project_id = \(projectID) ORDER BY e.key
            """, logger: logger)
        return try await decodeEnvironments(rows, connection: connection)
    }

    func environmentRow(projectKey: String, key: String, lock: Bool, connection: PostgresConnection) async throws -> Environment {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.environmentColumns) FROM environments e JOIN projects p ON p.id = e.project_id
            WHERE p.key = \(projectKey) AND e.key = \(key) \(unescaped: lock ? "FOR UPDATE OF e" : "")
            """, logger: logger)
        guard let environment = try await decodeEnvironments(rows, connection: connection).first else {
            // Distinguish a missing project from a missing environment for a precise 404.
            _ = try await projectRowForKey(projectKey, connection: connection)
            throw RepositoryError.notFound("environment \"\(key)\" does not exist in project \"\(projectKey)\"")
        }
        return environment
    }

    private func projectRowForKey(_ key: String, connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query("SELECT id FROM projects WHERE key = \(key)", logger: logger)
        for try await id in rows.decode(UUID.self) { return id }
        throw RepositoryError.notFound("project \"\(key)\" does not exist")
    }

    private func decodeEnvironments(_ rows: PostgresRowSequence, connection: PostgresConnection) async throws -> [Environment] {
        var environments: [Environment] = []
        for try await (id, projectID, projectKey, key, name, sdkKey, mobileKey, clientSideID, secureMode, version, created, updated)
            in rows.decode((UUID, UUID, String, String, String, String, String, String, Bool, Int, String, String).self)
        {
            environments.append(Environment(
                id: id, projectID: projectID, projectKey: projectKey, key: key, name: name, sdkKey: sdkKey, mobileKey: mobileKey,
                clientSideID: clientSideID, secureMode: secureMode, version: version, createdAt: created, updatedAt: updated,
                retiredKeys: []))
        }
        for i in environments.indices {
            let retired = try await connection.query(
                """
                SELECT kind, key, (extract(epoch FROM expires_at) * 1000)::bigint FROM retired_keys
                WHERE environment_id = \(environments[i].id) AND expires_at > now() ORDER BY expires_at
                """, logger: logger)
            for try await (kind, key, expires) in retired.decode((String, String, Int64).self) {
                environments[i].retiredKeys.append(.init(kind: kind, key: key, expiresAtMillis: Int(expires)))
            }
        }
        return environments
    }

    /// Inserts an environment with fresh keys, gives every flag of the project its initial targeting
    /// there, and publishes all of it.
    func insertEnvironment(
        projectID: UUID, projectKey: String, key: String, name: String, secureMode: Bool,
        connection: PostgresConnection, actor: Identity
    ) async throws -> Environment {
        let id = UUID()
        do {
            try await connection.query(
                """
                INSERT INTO environments (id, project_id, key, name, sdk_key, mobile_key, client_side_id, secure_mode)
                VALUES (\(id), \(projectID), \(key), \(name), \(Identifiers.sdkKey()), \(Identifiers.mobileKey()),
                        \(Identifiers.clientSideID()), \(secureMode))
                """, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RepositoryError.conflict("environment \"\(key)\" already exists in project \"\(projectKey)\"")
        }
        let environment = try await environmentRow(projectKey: projectKey, key: key, lock: false, connection: connection)
        try await connection.enqueue(environment.configRecord(now: currentMillis()), logger: logger)

        // Every flag exists in every environment: off, serving its default off variation.
        let flags = try await connection.query(
            "SELECT id, key, settings::text, salt FROM flags WHERE project_id = \(projectID) ORDER BY key", logger: logger)
        var created: [(UUID, String, FlagSettings, String)] = []
        for try await (flagID, flagKey, settingsText, salt) in flags.decode((UUID, String, String, String).self) {
            created.append((flagID, flagKey, try FlagSettings(json: try JSONParser.parse(settingsText)), salt))
        }
        for (flagID, flagKey, settings, salt) in created {
            let targeting = Targeting.initial(settings)
            try await connection.query(
                """
                INSERT INTO flag_targeting (flag_id, environment_id, targeting, version)
                VALUES (\(flagID), \(id), \(JSONWriter.string(Targeting.json(targeting)))::jsonb, 1)
                """, logger: logger)
            try await connection.enqueue(
                flagRecord(environmentID: id, key: flagKey, settings: settings, salt: salt, targeting: targeting,
                    version: 1), logger: logger)
        }
        try await connection.audit(
            actor: actor, action: "environment.create", resource: environment.resource, before: nil,
            after: environment.json(revealKeys: false), comment: nil, logger: logger)
        return environment
    }

    func createEnvironment(projectKey: String, key: String, name: String, secureMode: Bool, actor: Identity) async throws -> Environment {
        try await transaction { connection in
            let project = try await lockedProject(projectKey, connection: connection)
            return try await insertEnvironment(
                projectID: project.id, projectKey: project.key, key: key, name: name, secureMode: secureMode,
                connection: connection, actor: actor)
        }
    }

    func updateEnvironment(projectKey: String, key: String, name: String?, secureMode: Bool?, actor: Identity) async throws -> Environment {
        try await transaction { connection in
            let before = try await environmentRow(projectKey: projectKey, key: key, lock: true, connection: connection)
            try await connection.query(
                """
                UPDATE environments SET name = \(name ?? before.name), secure_mode = \(secureMode ?? before.secureMode),
                       version = version + 1, updated_at = now() WHERE id = \(before.id)
                """, logger: logger)
            let after = try await environmentRow(projectKey: projectKey, key: key, lock: false, connection: connection)
            try await connection.enqueue(after.configRecord(now: currentMillis()), logger: logger)
            try await connection.audit(
                actor: actor, action: "environment.update", resource: after.resource, before: before.json(revealKeys: false),
                after: after.json(revealKeys: false), comment: nil, logger: logger)
            return after
        }
    }

    func deleteEnvironment(projectKey: String, key: String, actor: Identity) async throws {
        try await transaction { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: key, lock: true, connection: connection)
            try await withdrawEnvironment(environment, connection: connection)
            try await connection.query("DELETE FROM environments WHERE id = \(environment.id)", logger: logger)
            try await connection.audit(
                actor: actor, action: "environment.delete", resource: environment.resource,
                before: environment.json(revealKeys: false), after: nil, comment: nil, logger: logger)
        }
    }

    /// Publishes tombstones for an environment and everything in it, so that relays drop it and
    /// compaction can clear its records.
    func withdrawEnvironment(_ environment: Environment, connection: PostgresConnection) async throws {
        let environmentID = environment.id.uuidString.lowercased()
        let flags = try await connection.query(
            """
            SELECT f.key, t.version FROM flag_targeting t JOIN flags f ON f.id = t.flag_id
            WHERE t.environment_id = \(environment.id)
            """, logger: logger)
        var tombstones: [ConfigRecord] = []
        for try await (key, version) in flags.decode((String, Int).self) {
            tombstones.append(ConfigRecord(kind: .flag, environmentID: environmentID, key: key, version: version + 1, data: nil))
        }
        let segments = try await connection.query(
            "SELECT key, version FROM segments WHERE environment_id = \(environment.id)", logger: logger)
        for try await (key, version) in segments.decode((String, Int).self) {
            tombstones.append(ConfigRecord(kind: .segment, environmentID: environmentID, key: key, version: version + 1, data: nil))
        }
        tombstones.append(ConfigRecord(kind: .environment, environmentID: environmentID, key: environment.key,
            version: environment.version + 1, data: nil))
        for record in tombstones { try await connection.enqueue(record, logger: logger) }
    }

    /// Replaces the SDK or mobile key; the old one keeps working for `expireOldAfterSeconds`.
    func rotateKey(projectKey: String, environmentKey: String, kind: String, expireOldAfterSeconds: Int,
        actor: Identity) async throws -> Environment {
        try await transaction { connection in
            let before = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: true, connection: connection)
            let oldKey = kind == "sdk" ? before.sdkKey : before.mobileKey
            let newKey = kind == "sdk" ? Identifiers.sdkKey() : Identifiers.mobileKey()
            try await connection.query("DELETE FROM retired_keys WHERE environment_id = \(before.id) AND expires_at <= now()",
                logger: logger)
            if expireOldAfterSeconds > 0 {
                try await connection.query(
                    """
                    INSERT INTO retired_keys (key, environment_id, kind, expires_at)
                    VALUES (\(oldKey), \(before.id), \(kind), now() + make_interval(secs => \(Double(expireOldAfterSeconds))))
                    """, logger: logger)
            }
            let column = kind == "sdk" ? "sdk_key" : "mobile_key"
            try await connection.query(
                """
                UPDATE environments SET \(unescaped: column) = \(newKey), version = version + 1, updated_at = now() \
                WHERE id = \(before.id)
                """,
                logger: logger)
            let after = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            try await connection.enqueue(after.configRecord(now: currentMillis()), logger: logger)
            try await connection.audit(
                actor: actor, action: "environment.key.rotate", resource: after.resource,
                before: ["kind": .string(kind), "key": .string(Environment.mask(oldKey))],
                after: ["kind": .string(kind), "key": .string(Environment.mask(newKey)),
                    "expireOldAfterSeconds": .number(Double(expireOldAfterSeconds))],
                comment: nil, logger: logger)
            return after
        }
    }
}
