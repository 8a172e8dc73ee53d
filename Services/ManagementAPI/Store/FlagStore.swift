import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// A flag row.
struct Flag: Sendable {
    var id: UUID
    var projectKey: String
    var key: String
    var settings: FlagSettings
    var salt: String
    var createdAt: String
    var updatedAt: String

    var resource: String { "proj/\(projectKey):flag/\(key)" }

    /// The flag as the API shows it, with its targeting rows.
    func resource(targeting: [TargetingRow]) -> FlagResource {
        FlagResource(
            key: key, settings: settings, salt: salt, createdAt: createdAt, updatedAt: updatedAt,
            environments: Dictionary(uniqueKeysWithValues: targeting.map { ($0.environmentKey, $0.targeting(salt: salt)) }))
    }

    /// The project-wide part of the API representation.
    var json: JSONValue { resource(targeting: []).settingsJSON }
}

/// A flag's targeting in one environment.
struct TargetingRow: Sendable {
    var environmentID: UUID
    var environmentKey: String
    var targeting: FeatureFlag
    var version: Int

    /// The API representation: LaunchDarkly's targeting fields plus the server-managed salt and version.
    func targeting(salt: String) -> FlagTargeting {
        FlagTargeting(targeting: targeting, salt: salt, version: version)
    }
}

/// The `vane.config` record of a flag in an environment.
func flagRecord(environmentID: UUID, key: String, settings: FlagSettings, salt: String, targeting: FeatureFlag,
    version: Int) -> ConfigRecord {
    let flag = Targeting.sdkFlag(key: key, settings: settings, salt: salt, targeting: targeting, version: version)
    let data = (try? JSONParser.parse(flag.jsonBytes)) ?? .null
    return ConfigRecord(kind: .flag, environmentID: environmentID.uuidString.lowercased(), key: key, version: version, data: data)
}

extension ManagementStore {
    private static let flagColumns = """
        f.id, p.key, f.key, f.settings::text, f.salt, \(SQL.timestamp("f.created_at")), \(SQL.timestamp("f.updated_at"))
        """

    private func decodeFlags(_ rows: PostgresRowSequence) async throws -> [Flag] {
        var flags: [Flag] = []
        for try await (id, projectKey, key, settings, salt, created, updated)
            in rows.decode((UUID, String, String, String, String, String, String).self)
        {
            flags.append(Flag(
                id: id, projectKey: projectKey, key: key, settings: try FlagSettings(json: try JSONParser.parse(settings)),
                salt: salt, createdAt: created, updatedAt: updated))
        }
        return flags
    }

    private func targetingRows(flagID: UUID, lock: Bool, connection: PostgresConnection) async throws -> [TargetingRow] {
        let rows = try await connection.query(
            """
            SELECT t.environment_id, e.key, t.targeting::text, t.version FROM flag_targeting t
            JOIN environments e ON e.id = t.environment_id WHERE t.flag_id = \(flagID) ORDER BY e.key
            \(unescaped: lock ? "FOR UPDATE OF t" : "")
            """, logger: logger)
        var result: [TargetingRow] = []
        for try await (environmentID, environmentKey, text, version) in rows.decode((UUID, String, String, Int).self) {
            result.append(TargetingRow(
                environmentID: environmentID, environmentKey: environmentKey, targeting: try FeatureFlag(json: try JSONParser.parse(text)),
                version: version))
        }
        return result
    }

    /// A flag with its targeting in every environment, as the API returns it (and the audit log records it).
    func flagJSON(_ flag: Flag, targeting: [TargetingRow]) -> JSONValue {
        flag.resource(targeting: targeting).json
    }

    /// Each environment's targeting of the flag `f` as one JSON column (one query per request, not
    /// one per flag).
    private static let targetingColumn = """
        coalesce((SELECT json_agg(json_build_array(e.id, e.key, t.targeting, t.version) ORDER BY e.key)
                  FROM flag_targeting t JOIN environments e ON e.id = t.environment_id WHERE t.flag_id = f.id), '[]')::text
        """

    /// Rows of `flagColumns` followed by `targetingColumn`, as the API shows flags.
    private func flagsWithTargeting(_ rows: PostgresRowSequence) async throws -> [FlagResource] {
        var result: [FlagResource] = []
        for try await (id, projectKey, key, settings, salt, created, updated, targetingText)
            in rows.decode((UUID, String, String, String, String, String, String, String).self)
        {
            let flag = Flag(
                id: id, projectKey: projectKey, key: key, settings: try FlagSettings(json: try JSONParser.parse(settings)),
                salt: salt, createdAt: created, updatedAt: updated)
            var targeting: [TargetingRow] = []
            for entry in try JSONParser.parse(targetingText).arrayValue ?? [] {
                guard let environmentID = entry[0]?.stringValue.flatMap(UUID.init(uuidString:)), let environmentKey = entry[1]?.stringValue,
                      let version = entry[3]?.integerValue
                else { continue }
                targeting.append(TargetingRow(
                    environmentID: environmentID, environmentKey: environmentKey, targeting: try FeatureFlag(json: entry[2] ?? [:]),
                    version: version))
            }
            result.append(flag.resource(targeting: targeting))
        }
        return result
    }

    /// The project's flags by key, with their targeting; `tag` and `query` (a substring of the key or name) filter.
    func flags(projectKey: String, tag: String?, query: String?) async throws -> [FlagResource] {
        let project = try await project(projectKey)
        let pattern = query.map { "%\($0.lowercased())%" }
        return try await flagsWithTargeting(client.query(
            """
            SELECT \(unescaped: Self.flagColumns), \(unescaped: Self.targetingColumn)
            FROM flags f JOIN projects p ON p.id = f.project_id
            WHERE f.project_id = \(project.id)
              AND (\(tag)::text IS NULL OR f.settings->'tags' ? \(tag ?? ""))
              AND (\(pattern)::text IS NULL OR lower(f.key) LIKE \(pattern ?? "") OR lower(f.settings->>'name') LIKE \(pattern ?? ""))
            ORDER BY f.key
            """, logger: logger))
    }

    func flag(projectKey: String, key: String, connection: PostgresConnection, lock: String = "") async throws -> Flag {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.flagColumns) FROM flags f JOIN projects p ON p.id = f.project_id
            WHERE p.key = \(projectKey) AND f.key = \(key) \(unescaped: lock)
            """, logger: logger)
        guard let flag = try await decodeFlags(rows).first else {
            let projects = try await connection.query("SELECT 1 FROM projects WHERE key = \(projectKey)", logger: logger)
            var projectExists = false
            for try await _ in projects { projectExists = true }
            throw projectExists ? FlagRefusal.flagMissing(key, project: projectKey) : FlagRefusal.projectMissing(projectKey)
        }
        return flag
    }

    /// One flag with its targeting everywhere.
    func flagResource(projectKey: String, key: String) async throws -> FlagResource {
        let flags = try await flagsWithTargeting(client.query(
            """
            SELECT \(unescaped: Self.flagColumns), \(unescaped: Self.targetingColumn)
            FROM flags f JOIN projects p ON p.id = f.project_id WHERE p.key = \(projectKey) AND f.key = \(key)
            """, logger: logger))
        if let flag = flags.first { return flag }
        return try await client.withConnection { connection in
            _ = try await flag(projectKey: projectKey, key: key, connection: connection)  // throws the precise 404
            throw RepositoryError.notFound("flag \"\(key)\" does not exist")
        }
    }

    /// Creates a flag in every environment of the project: off, serving its default off variation.
    func createFlag(projectKey: String, key: String, settings: FlagSettings, salt: String?, actor: Identity) async throws -> FlagResource {
        try await transaction { connection in
            let project = try await lockedProjectShared(projectKey, connection: connection)
            let id = UUID()
            let salt = salt ?? Identifiers.salt()
            do {
                try await connection.query(
                    """
                    INSERT INTO flags (id, project_id, key, settings, salt)
                    VALUES (\(id), \(project), \(key), \(JSONWriter.string(settings.json))::jsonb, \(salt))
                    """, logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw FlagRefusal.duplicate(key, project: projectKey)
            }
            let environments = try await connection.query("SELECT id FROM environments WHERE project_id = \(project)", logger: logger)
            var environmentIDs: [UUID] = []
            for try await environmentID in environments.decode(UUID.self) { environmentIDs.append(environmentID) }
            let targeting = Targeting.initial(settings)
            for environmentID in environmentIDs {
                let version = try await connection.tombstoneVersion(environmentID: environmentID, kind: .flag, key: key, logger: logger) + 1
                try await connection.query(
                    """
                    INSERT INTO flag_targeting (flag_id, environment_id, targeting, version)
                    VALUES (\(id), \(environmentID), \(JSONWriter.string(Targeting.json(targeting)))::jsonb, \(version))
                    """, logger: logger)
                try await connection.enqueue(
                    flagRecord(environmentID: environmentID, key: key, settings: settings, salt: salt,
                        targeting: targeting, version: version),
                    logger: logger)
            }
            let flag = try await flag(projectKey: projectKey, key: key, connection: connection)
            let created = flag.resource(targeting: try await targetingRows(flagID: id, lock: false, connection: connection))
            try await connection.audit(actor: actor, action: "flag.create", resource: flag.resource, before: nil, after: created.json,
                comment: nil, logger: logger)
            return created
        }
    }

    private func lockedProjectShared(_ key: String, connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query("SELECT id FROM projects WHERE key = \(key) FOR SHARE", logger: logger)
        for try await id in rows.decode(UUID.self) { return id }
        throw FlagRefusal.projectMissing(key)
    }

    /// Applies a JSON merge patch to a flag's project-wide settings. SDK-visible changes
    /// (variations, client-side availability) are published to every environment.
    func updateFlag(projectKey: String, key: String, patch: FlagSettingsPatch, actor: Identity) async throws -> FlagResource {
        try await transaction { connection in
            let before = try await flag(projectKey: projectKey, key: key, connection: connection, lock: "FOR UPDATE OF f")
            let targeting = try await targetingRows(flagID: before.id, lock: true, connection: connection)
            // The new variation list must still fit every environment's targeting, and every
            // prerequisite that other flags place on this one.
            let dependents = try await connection.query(
                """
                SELECT f.key, e.key, (p->>'variation')::int FROM flag_targeting t
                JOIN flags f ON f.id = t.flag_id JOIN environments e ON e.id = t.environment_id
                CROSS JOIN LATERAL jsonb_array_elements(t.targeting->'prerequisites') p
                WHERE f.project_id = (SELECT project_id FROM flags WHERE id = \(before.id)) AND p->>'key' = \(key)
                """, logger: logger)
            var uses: [FlagSettingsPatch.PrerequisiteUse] = []
            for try await (dependent, environmentKey, variation) in dependents.decode((String, String, Int).self) {
                uses.append(.init(flagKey: dependent, environmentKey: environmentKey, variation: variation))
            }
            let settings = try patch.apply(
                to: before.resource(targeting: targeting), targeting: targeting.map { ($0.environmentKey, $0.targeting) },
                dependents: uses)

            try await connection.query(
                "UPDATE flags SET settings = \(JSONWriter.string(settings.json))::jsonb, updated_at = now() WHERE id = \(before.id)",
                logger: logger)
            if FlagSettingsPatch.isVisibleToSDKs(from: before.settings, to: settings) {
                for row in targeting {
                    try await connection.query(
                        """
                        UPDATE flag_targeting SET version = version + 1, updated_at = now() \
                        WHERE flag_id = \(before.id) AND environment_id = \(row.environmentID)
                        """,
                        logger: logger)
                    try await connection.enqueue(
                        flagRecord(environmentID: row.environmentID, key: key, settings: settings, salt: before.salt,
                            targeting: row.targeting, version: row.version + 1),
                        logger: logger)
                }
            }
            let after = try await flag(projectKey: projectKey, key: key, connection: connection)
            let updated = after.resource(targeting: try await targetingRows(flagID: before.id, lock: false, connection: connection))
            try await connection.audit(
                actor: actor, action: "flag.update", resource: after.resource, before: before.json, after: after.json,
                comment: nil, logger: logger)
            return updated
        }
    }

    /// Deletes a flag everywhere; refused while other flags use it as a prerequisite.
    func deleteFlag(projectKey: String, key: String, actor: Identity) async throws {
        try await transaction { connection in
            let flag = try await flag(projectKey: projectKey, key: key, connection: connection, lock: "FOR UPDATE OF f")
            let dependents = try await connection.query(
                """
                SELECT DISTINCT f.key FROM flag_targeting t JOIN flags f ON f.id = t.flag_id
                CROSS JOIN LATERAL jsonb_array_elements(t.targeting->'prerequisites') p
                WHERE f.project_id = (SELECT project_id FROM flags WHERE id = \(flag.id)) AND f.id <> \(flag.id) AND p->>'key' = \(key)
                ORDER BY f.key
                """, logger: logger)
            var users: [String] = []
            for try await dependent in dependents.decode(String.self) { users.append(dependent) }
            if let refusal = FlagRefusal.stillRequired(key, by: users) { throw refusal }
            let targeting = try await targetingRows(flagID: flag.id, lock: true, connection: connection)
            for row in targeting {
                let version = row.version + 1
                try await connection.recordTombstone(environmentID: row.environmentID, kind: .flag, key: key,
                    version: version, logger: logger)
                try await connection.enqueue(
                    ConfigRecord(kind: .flag, environmentID: row.environmentID.uuidString.lowercased(), key: key,
                        version: version, data: nil),
                    logger: logger)
            }
            try await connection.query("DELETE FROM flags WHERE id = \(flag.id)", logger: logger)
            try await connection.audit(
                actor: actor, action: "flag.delete", resource: flag.resource, before: flagJSON(flag, targeting: targeting), after: nil,
                comment: nil, logger: logger)
        }
    }

    // MARK: - Targeting

    /// A flag's targeting in one environment.
    func targeting(projectKey: String, flagKey: String, environmentKey: String) async throws -> FlagTargeting {
        try await client.withConnection { connection in
            let flag = try await flag(projectKey: projectKey, key: flagKey, connection: connection)
            guard let row = try await targetingRows(flagID: flag.id, lock: false,
                connection: connection).first(where: { $0.environmentKey == environmentKey }) else {
                _ = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
                throw FlagRefusal.noTargeting(FlagEnvironmentKeys(project: projectKey, flag: flagKey, environment: environmentKey))
            }
            return row.targeting(salt: flag.salt)
        }
    }

    /// Replaces (`merge: false`, PUT) or patches (`merge: true`, PATCH) a flag's targeting in one
    /// environment; version +1, audited, published.
    ///
    /// PATCH is an RFC 7396 JSON merge patch, with one refinement: `fallthrough` holds either a
    /// `variation` or a `rollout`, so a patch that sets one drops the other (a plain merge would keep
    /// both and be refused). `null` removes a field, which then takes its default.
    func changeTargeting(_ keys: FlagEnvironmentKeys, _ request: TargetingChangeRequest, actor: Identity) async throws -> FlagTargeting {
        try await transaction { connection in
            if request.touchesPrerequisites {
                // Prerequisite cycles depend on the whole environment: changes to it are serialized.
                let environment = try await environmentRow(
                    projectKey: keys.project, key: keys.environment, lock: false, connection: connection)
                try await connection.lockEnvironment(environment.id, logger: logger)
            }
            let locked = try await lockTargeting(
                projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
            try WritePrecondition(version: request.ifMatch).check(stored: locked.version, subject: "the targeting")
            let change = try await prepareTargetingChange(locked, body: request.body, merge: request.merge, connection: connection)
            return try await writeTargetingChange(
                change, projectKey: keys.project, environmentKey: keys.environment, comment: request.comment, origin: .api(actor),
                connection: connection)
        }
    }

    /// A flag's targeting in one environment, locked for update (the flag share-locked), as read before a change.
    struct LockedTargeting: Sendable {
        var flag: Flag
        var environmentID: UUID
        var json: JSONValue
        var version: Int
    }

    /// A validated targeting change, not yet written (``writeTargetingChange(_:projectKey:environmentKey:comment:origin:connection:)``).
    struct TargetingChange: Sendable {
        var locked: LockedTargeting
        var targeting: FeatureFlag
    }

    /// Locks a flag's targeting in one environment (404 naming what is missing).
    func lockTargeting(
        projectKey: String, flagKey: String, environmentKey: String, connection: PostgresConnection
    ) async throws -> LockedTargeting {
        let (flag, environmentID, json, version) = try await lockedTargeting(
            projectKey: projectKey, flagKey: flagKey, environmentKey: environmentKey, connection: connection)
        return LockedTargeting(flag: flag, environmentID: environmentID, json: json, version: version)
    }

    /// Applies `body` (a merge patch, or the whole targeting) to locked targeting and validates the result against the
    /// environment; writes nothing, so a scheduled change is checked by the very code that later applies it.
    func prepareTargetingChange(
        _ locked: LockedTargeting, body: JSONValue, merge: Bool, connection: PostgresConnection
    ) async throws -> TargetingChange {
        let targeting = try TargetingChangeRequest(body: body, merge: merge).targeting(current: locked.json)
        let validator = try await targetingValidator(
            flag: locked.flag, environmentID: locked.environmentID, targeting: targeting, connection: connection)
        try validator.validate(targeting)
        return TargetingChange(locked: locked, targeting: targeting)
    }

    /// Writes a prepared change: version +1, the audit entry, the outbox record. A change of the fallthrough or the
    /// on/off state from anything but a rollout itself cancels that environment's running rollout, and says so.
    func writeTargetingChange(
        _ change: TargetingChange, projectKey: String, environmentKey: String, comment: String?, origin: TargetingChangeOrigin,
        connection: PostgresConnection
    ) async throws -> FlagTargeting {
        let flag = change.locked.flag
        let environmentID = change.locked.environmentID
        let version = change.locked.version + 1
        let stored = Targeting.json(change.targeting)
        try await connection.query(
            """
            UPDATE flag_targeting SET targeting = \(JSONWriter.string(stored))::jsonb, version = \(version),
                   updated_at = now() WHERE flag_id = \(flag.id) AND environment_id = \(environmentID)
            """, logger: logger)
        var auditComment = comment
        if origin.cancelsRollouts, let before = try? FeatureFlag(json: change.locked.json),
           before.on != change.targeting.on || before.fallthrough != change.targeting.fallthrough
        {
            let resource = "proj/\(projectKey):env/\(environmentKey):flag/\(flag.key)"
            if let cancelled = try await ReleaseHooks.cancelRollouts(
                flagID: flag.id, environmentID: environmentID, resource: resource, actor: origin.actorName,
                reason: origin.cancellationReason, connection: connection, logger: logger)
            {
                let note = "cancels rollout \(cancelled.uuidString.lowercased()) (the fallthrough or on/off state changed)"
                auditComment = auditComment.map { "\($0); \(note)" } ?? note
            }
        }
        try await connection.audit(
            actorName: origin.actorName, action: "flag.targeting.update",
            resource: "proj/\(projectKey):env/\(environmentKey):flag/\(flag.key)",
            before: change.locked.json, after: stored, comment: auditComment,
            publishing: flagRecord(
                environmentID: environmentID, key: flag.key, settings: flag.settings, salt: flag.salt, targeting: change.targeting,
                version: version),
            logger: logger)
        return FlagTargeting(targeting: change.targeting, salt: flag.salt, version: version)
    }

    /// The flag (share-locked: its variations must not change under the validation) and its
    /// targeting in one environment (locked for update), in one query; on a miss, says precisely
    /// what is missing.
    private func lockedTargeting(
        projectKey: String, flagKey: String, environmentKey: String, connection: PostgresConnection
    ) async throws -> (Flag, environmentID: UUID, targeting: JSONValue, version: Int) {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.flagColumns), e.id, t.targeting::text, t.version
            FROM flags f JOIN projects p ON p.id = f.project_id
            JOIN environments e ON e.project_id = p.id
            JOIN flag_targeting t ON t.flag_id = f.id AND t.environment_id = e.id
            WHERE p.key = \(projectKey) AND f.key = \(flagKey) AND e.key = \(environmentKey)
            FOR SHARE OF f FOR UPDATE OF t
            """, logger: logger)
        for try await (id, project, key, settings, salt, created, updated, environmentID, targeting, version)
            in rows.decode((UUID, String, String, String, String, String, String, UUID, String, Int).self)
        {
            let flag = Flag(
                id: id, projectKey: project, key: key, settings: try FlagSettings(json: try JSONParser.parse(settings)),
                salt: salt, createdAt: created, updatedAt: updated)
            return (flag, environmentID, try JSONParser.parse(targeting), version)
        }
        _ = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
        _ = try await flag(projectKey: projectKey, key: flagKey, connection: connection)
        throw FlagRefusal.noTargeting(FlagEnvironmentKeys(project: projectKey, flag: flagKey, environment: environmentKey))
    }

    /// What validating a flag's targeting needs to know about its environment. Referenced segments
    /// and prerequisite flags are share-locked so that they cannot be deleted or changed meanwhile.
    private func targetingValidator(flag: Flag, environmentID: UUID, targeting: FeatureFlag,
        connection: PostgresConnection) async throws -> TargetingValidator {
        var projectFlags: [String: Int] = [:]
        let prerequisiteKeys = targeting.prerequisites.map(\.key)
        if !prerequisiteKeys.isEmpty {
            let rows = try await connection.query(
                """
                SELECT f.key, jsonb_array_length(f.settings->'variations') FROM flags f
                WHERE f.project_id = (SELECT project_id FROM flags WHERE id = \(flag.id)) AND f.key = ANY(\(prerequisiteKeys))
                FOR SHARE OF f
                """, logger: logger)
            for try await (key, count) in rows.decode((String, Int).self) { projectFlags[key] = count }
        }
        var prerequisitesOf: [String: [String]] = [:]
        if !prerequisiteKeys.isEmpty {
            let rows = try await connection.query(
                """
                SELECT f.key, coalesce((SELECT array_agg(p->>'key') FROM jsonb_array_elements(t.targeting->'prerequisites') p), '{}')
                FROM flag_targeting t JOIN flags f ON f.id = t.flag_id WHERE t.environment_id = \(environmentID)
                """, logger: logger)
            for try await (key, prerequisites) in rows.decode((String, [String]).self) { prerequisitesOf[key] = prerequisites }
        }
        var segmentKeys = Set<String>()
        let referenced = targeting.rules.flatMap(\.clauses).filter { $0.op == ClauseOperator.segmentMatch.rawValue }
            .flatMap { $0.values.compactMap(\.stringValue) }
        if !referenced.isEmpty {
            let rows = try await connection.query(
                "SELECT key FROM segments WHERE environment_id = \(environmentID) AND key = ANY(\(Array(Set(referenced)))) FOR SHARE",
                logger: logger)
            for try await key in rows.decode(String.self) { segmentKeys.insert(key) }
        }
        return TargetingValidator(
            flagKey: flag.key, variationCount: flag.settings.variations.count, projectFlags: projectFlags, segments: segmentKeys,
            prerequisitesOf: prerequisitesOf)
    }
}
