import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// A segment as the API manages it: descriptive fields plus LaunchDarkly's segment fields.
struct SegmentDefinition: Sendable {
    var name: String
    var description: String
    var tags: [String]
    /// LaunchDarkly's fields (key and version are filled in when published).
    var segment: Segment

    static let fields = [
        "included", "excluded", "includedContexts", "excludedContexts", "rules", "salt", "unbounded", "unboundedContextKind",
        "generation",
    ]

    /// Decodes a PUT body; rule ids are generated when absent, the salt is kept (or generated).
    init(json: JSONValue, key: String, existingSalt: String?) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        if let bodyKey = properties["key"], bodyKey != .string(key) { problems.add("key", "must match the key in the path (\"\(key)\")") }
        func text(_ name: String) -> String? {
            switch properties[name] {
            case .string(let s)?: return s
            case nil, .null?: return nil
            case let other?:
                problems.add(name, "expected a string, found \(other.typeName)")
                return nil
            }
        }
        name = text("name") ?? key
        description = text("description") ?? ""
        tags = []
        if let list = properties["tags"], !list.isNull {
            if case .array(let elements) = list {
                for (i, element) in elements.enumerated() {
                    if case .string(let tag) = element { tags.append(tag) } else { problems.add("tags[\(i)]", "expected a string") }
                }
            } else {
                problems.add("tags", "expected an array of strings")
            }
        }
        try problems.check()
        do {
            segment = try Segment(json: .object(properties.filter { Self.fields.contains($0.key) }))
        } catch {
            throw Problems.decoding(error)
        }
        segment.key = key
        // An explicit salt, even "", is kept: it decides which contexts weighted rules include.
        if properties["salt"] == nil || properties["salt"]?.isNull == true {
            segment.salt = existingSalt ?? Identifiers.salt()
        }
        for i in segment.rules.indices where segment.rules[i].id?.isEmpty ?? true {
            segment.rules[i].id = Identifiers.ruleID()
        }
    }

    init(stored: JSONValue, key: String) throws {
        try self.init(json: stored, key: key, existingSalt: nil)
    }

    /// The stored representation (and the API's, without key and version).
    var json: JSONValue {
        var object: [String: JSONValue] = ["name": .string(name), "description": .string(description),
            "tags": .array(tags.map(JSONValue.string))]
        if case .object(let fields) = (try? JSONParser.parse(segment.jsonBytes)) ?? .null {
            for (key, value) in fields where Self.fields.contains(key) { object[key] = value }
        }
        if !segment.unbounded {
            object["unbounded"] = nil
            object["generation"] = nil
        }
        return .object(object)
    }

    /// Segment rules' and targets' validity; `segments` are the environment's other segment keys
    /// and `references` their segmentMatch references (to refuse cycles).
    func validate(segments: Set<String>, references: [String: [String]]) throws(ValidationError) {
        var problems = Problems()
        for (name, list) in [("includedContexts", segment.includedContexts), ("excludedContexts", segment.excludedContexts)] {
            for (i, target) in list.enumerated() {
                ClauseValidation.checkKind(target.contextKind, at: "\(name)[\(i)].contextKind", into: &problems)
            }
        }
        ClauseValidation.checkKind(segment.unboundedContextKind, at: "unboundedContextKind", into: &problems)
        var known = segments
        known.insert(segment.key)
        for (i, rule) in segment.rules.enumerated() {
            for (j, clause) in rule.clauses.enumerated() {
                ClauseValidation.check(clause, at: "rules[\(i)].clauses[\(j)]", segments: known, into: &problems)
            }
            if let weight = rule.weight, !(0...100_000).contains(weight) {
                problems.add("rules[\(i)].weight", "must be within 0...100000, got \(weight)")
            }
            ClauseValidation.checkKind(rule.rolloutContextKind, at: "rules[\(i)].rolloutContextKind", into: &problems)
            if let bucketBy = rule.bucketBy, !bucketBy.isEmpty {
                ClauseValidation.checkReference(bucketBy, ownerKind: rule.rolloutContextKind, at: "rules[\(i)].bucketBy", into: &problems)
            }
        }
        // A segment may not reach itself through segmentMatch references.
        var graph = references
        graph[segment.key] = referencedSegments
        for (i, rule) in segment.rules.enumerated() {
            for (j, clause) in rule.clauses.enumerated() where clause.op == ClauseOperator.segmentMatch.rawValue {
                for (k, value) in clause.values.enumerated() {
                    guard case .string(let target) = value else { continue }
                    if Self.reaches(from: target, to: segment.key, graph: graph) {
                        problems.add("rules[\(i)].clauses[\(j)].values[\(k)]",
                            "segment \"\(target)\" leads back to \"\(segment.key)\": a segment cycle")
                    }
                }
            }
        }
        try problems.check()
    }

    /// Segment keys this segment's rules refer to.
    var referencedSegments: [String] {
        segment.rules.flatMap(\.clauses).filter { $0.op == ClauseOperator.segmentMatch.rawValue }
            .flatMap { $0.values.compactMap(\.stringValue) }
    }

    private static func reaches(from start: String, to goal: String, graph: [String: [String]]) -> Bool {
        var stack = [start]
        var seen: Set<String> = []
        while let key = stack.popLast() {
            if key == goal { return true }
            if seen.insert(key).inserted { stack.append(contentsOf: graph[key] ?? []) }
        }
        return false
    }
}

extension ManagementStore {
    private func segmentRows(environmentID: UUID, key: String?, lock: Bool, connection: PostgresConnection) async throws
        -> [(key: String, definition: SegmentDefinition, version: Int, createdAt: String, updatedAt: String)]
    {
        let rows = try await connection.query(
            """
            SELECT key, definition::text, version, \(unescaped: SQL.timestamp("created_at")), \(unescaped: SQL.timestamp("updated_at"))
            FROM segments WHERE environment_id = \(environmentID) AND (\(key)::text IS NULL OR key = \(key ?? ""))
            ORDER BY key \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        var result: [(key: String, definition: SegmentDefinition, version: Int, createdAt: String, updatedAt: String)] = []
        for try await (key, text, version, created, updated) in rows.decode((String, String, Int, String, String).self) {
            result.append((key, try SegmentDefinition(stored: try JSONParser.parse(text), key: key), version, created, updated))
        }
        return result
    }

    private func segmentJSON(_ row: (key: String, definition: SegmentDefinition, version: Int, createdAt: String,
        updatedAt: String)) -> JSONValue {
        guard case .object(var object) = row.definition.json else { return [:] }
        object["key"] = .string(row.key)
        object["version"] = .number(Double(row.version))
        object["createdAt"] = .string(row.createdAt)
        object["updatedAt"] = .string(row.updatedAt)
        return .object(object)
    }

    func segments(projectKey: String, environmentKey: String) async throws -> [JSONValue] {
        try await client.withConnection { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            return try await segmentRows(environmentID: environment.id, key: nil, lock: false, connection: connection).map(segmentJSON)
        }
    }

    func segment(projectKey: String, environmentKey: String, key: String) async throws -> JSONValue {
        try await client.withConnection { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            guard let row = try await segmentRows(environmentID: environment.id, key: key, lock: false, connection: connection).first else {
                throw RepositoryError.notFound("segment \"\(key)\" does not exist in environment \"\(environmentKey)\"")
            }
            return segmentJSON(row)
        }
    }

    /// Creates or replaces a segment (PUT); returns the segment and whether it was created.
    func putSegment(projectKey: String, environmentKey: String, key: String, body: JSONValue, comment: String?,
        actor: Identity) async throws -> (JSONValue, Bool) {
        try await transaction { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            try await connection.lockEnvironment(environment.id, logger: logger)
            let existing = try await segmentRows(environmentID: environment.id, key: key, lock: true, connection: connection).first
            let definition = try SegmentDefinition(json: body, key: key, existingSalt: existing?.definition.segment.salt)

            var references: [String: [String]] = [:]
            var keys = Set<String>()
            for row in try await segmentRows(environmentID: environment.id, key: nil, lock: false,
                connection: connection) where row.key != key {
                keys.insert(row.key)
                references[row.key] = row.definition.referencedSegments
            }
            try definition.validate(segments: keys, references: references)

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
            guard let row = try await segmentRows(environmentID: environment.id, key: key, lock: false, connection: connection).first else {
                throw RepositoryError.notFound("segment vanished")
            }
            let json = segmentJSON(row)
            try await connection.audit(
                actor: actor, action: existing == nil ? "segment.create" : "segment.update",
                resource: "proj/\(projectKey):env/\(environmentKey):segment/\(key)",
                before: existing.map(segmentJSON), after: json, comment: comment, logger: logger)
            return (json, existing == nil)
        }
    }

    /// Deletes a segment; refused while flags or other segments refer to it.
    func deleteSegment(projectKey: String, environmentKey: String, key: String, comment: String?, actor: Identity) async throws {
        try await transaction { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            try await connection.lockEnvironment(environment.id, logger: logger)
            guard let existing = try await segmentRows(environmentID: environment.id, key: key, lock: true,
                connection: connection).first else {
                throw RepositoryError.notFound("segment \"\(key)\" does not exist in environment \"\(environmentKey)\"")
            }
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
                actor: actor, action: "segment.delete", resource: "proj/\(projectKey):env/\(environmentKey):segment/\(key)",
                before: segmentJSON(existing), after: nil, comment: comment, logger: logger)
        }
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
