import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// A project row.
struct Project: Sendable {
    var id: UUID
    var key: String
    var name: String
    var createdAt: String
    var updatedAt: String

    var json: JSONValue {
        ["id": .string(id.uuidString.lowercased()), "key": .string(key), "name": .string(name),
         "createdAt": .string(createdAt), "updatedAt": .string(updatedAt)]
    }

    var resource: String { "proj/\(key)" }
}

/// An environment row with its keys.
struct Environment: Sendable {
    struct RetiredKey: Sendable {
        var kind: String
        var key: String
        var expiresAtMillis: Int
    }

    var id: UUID
    var projectID: UUID
    var projectKey: String
    var key: String
    var name: String
    var sdkKey: String
    var mobileKey: String
    var clientSideID: String
    var secureMode: Bool
    var version: Int
    var createdAt: String
    var updatedAt: String
    var retiredKeys: [RetiredKey]

    var resource: String { "proj/\(projectKey):env/\(key)" }

    /// The API representation; `revealKeys: false` masks the SDK and mobile keys (for readers).
    func json(revealKeys: Bool = true) -> JSONValue {
        func shown(_ key: String) -> String { revealKeys ? key : Self.mask(key) }
        return [
            "id": .string(id.uuidString.lowercased()), "key": .string(key), "name": .string(name), "projectKey": .string(projectKey),
            "sdkKey": .string(shown(sdkKey)), "mobileKey": .string(shown(mobileKey)), "clientSideId": .string(clientSideID),
            "secureMode": .bool(secureMode), "version": .number(Double(version)),
            "createdAt": .string(createdAt), "updatedAt": .string(updatedAt),
            "retiredKeys": .array(retiredKeys.map { retired in
                ["kind": .string(retired.kind), "key": .string(shown(retired.key)), "expiresAt": .number(Double(retired.expiresAtMillis))]
            }),
        ]
    }

    /// `sdk-…abcd`: enough to recognise a key, not to use it.
    static func mask(_ key: String) -> String {
        guard let dash = key.firstIndex(of: "-") else { return "…" }
        return String(key[...dash]) + "…" + String(key.suffix(4))
    }

    /// The record relays and events-ingest receive: key hashes and secure-mode HMAC states, never keys.
    func configRecord(now: Int) -> ConfigRecord {
        let retiredSDK = retiredKeys.filter { $0.kind == "sdk" && $0.expiresAtMillis > now }
        let retiredMobile = retiredKeys.filter { $0.kind == "mobile" && $0.expiresAtMillis > now }
        let record = EnvironmentRecord(
            id: id.uuidString.lowercased(), key: key, projectKey: projectKey, name: name,
            sdkKeys: [EnvironmentRecord.Credential(sha256: Credentials.hash(sdkKey), secureModeKey: HMACKeyState(key: sdkKey))]
                + retiredSDK.map {
                    EnvironmentRecord.Credential(sha256: Credentials.hash($0.key), expiresAt: $0.expiresAtMillis,
                        secureModeKey: HMACKeyState(key: $0.key))
                },
            mobileKeys: [EnvironmentRecord.Credential(sha256: Credentials.hash(mobileKey))]
                + retiredMobile.map { EnvironmentRecord.Credential(sha256: Credentials.hash($0.key), expiresAt: $0.expiresAtMillis) },
            clientSideID: clientSideID, secureMode: secureMode)
        return ConfigRecord(kind: .environment, environmentID: record.id, key: key, version: version, data: record.jsonValue)
    }
}

/// Unix milliseconds now.
func currentMillis() -> Int { Int(Date().timeIntervalSince1970 * 1000) }

extension ManagementStore {
    private static let projectColumns = "id, key, name, \(SQL.timestamp("created_at")), \(SQL.timestamp("updated_at"))"

    func projects() async throws -> [Project] {
        try await projectRows(client.query(PostgresQuery(unsafeSQL: "SELECT \(Self.projectColumns) FROM projects ORDER BY key"),
            logger: logger))
    }

    func project(_ key: String) async throws -> Project {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.projectColumns) FROM projects WHERE key = \(key)", logger: logger)
        guard let project = try await projectRows(rows).first else { throw RepositoryError.notFound("project \"\(key)\" does not exist") }
        return project
    }

    private func projectRows(_ rows: PostgresRowSequence) async throws -> [Project] {
        var projects: [Project] = []
        for try await (id, key, name, created, updated) in rows.decode((UUID, String, String, String, String).self) {
            projects.append(Project(id: id, key: key, name: name, createdAt: created, updatedAt: updated))
        }
        return projects
    }

    /// Creates a project and its environments (default `production` and `test`).
    func createProject(key: String, name: String, environments: [(key: String, name: String)],
        actor: Identity) async throws -> (Project, [Environment]) {
        try await transaction { connection in
            let id = UUID()
            do {
                try await connection.query("INSERT INTO projects (id, key, name) VALUES (\(id), \(key), \(name))", logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw RepositoryError.conflict("project \"\(key)\" already exists")
            }
            // The project's entry comes first so that the audit log reads in causal order.
            let project = try await projectRow(id: id, connection: connection)
            try await connection.audit(
                actor: actor, action: "project.create", resource: project.resource, before: nil, after: project.json,
                comment: nil, logger: logger)
            var created: [Environment] = []
            for environment in environments {
                created.append(try await insertEnvironment(
                    projectID: id, projectKey: key, key: environment.key, name: environment.name, secureMode: false,
                    connection: connection, actor: actor))
            }
            return (project, created)
        }
    }

    func updateProject(key: String, name: String, actor: Identity) async throws -> Project {
        try await transaction { connection in
            let before = try await lockedProject(key, connection: connection)
            try await connection.query("UPDATE projects SET name = \(name), updated_at = now() WHERE id = \(before.id)", logger: logger)
            let after = try await projectRow(id: before.id, connection: connection)
            try await connection.audit(
                actor: actor, action: "project.update", resource: after.resource, before: before.json, after: after.json,
                comment: nil, logger: logger)
            return after
        }
    }

    /// Deletes a project; its environments' data is withdrawn from the data plane (tombstones).
    func deleteProject(key: String, actor: Identity) async throws {
        try await transaction { connection in
            let project = try await lockedProject(key, connection: connection)
            for environment in try await environmentRows(projectID: project.id, connection: connection) {
                try await withdrawEnvironment(environment, connection: connection)
            }
            try await connection.query("DELETE FROM projects WHERE id = \(project.id)", logger: logger)
            try await connection.audit(
                actor: actor, action: "project.delete", resource: project.resource, before: project.json, after: nil,
                comment: nil, logger: logger)
        }
    }

    func lockedProject(_ key: String, connection: PostgresConnection) async throws -> Project {
        let rows = try await connection.query(
            "SELECT \(unescaped: Self.projectColumns) FROM projects WHERE key = \(key) FOR UPDATE", logger: logger)
        guard let project = try await projectRows(rows).first else { throw RepositoryError.notFound("project \"\(key)\" does not exist") }
        return project
    }

    private func projectRow(id: UUID, connection: PostgresConnection) async throws -> Project {
        let rows = try await connection.query("SELECT \(unescaped: Self.projectColumns) FROM projects WHERE id = \(id)", logger: logger)
        guard let project = try await projectRows(rows).first else { throw RepositoryError.notFound("project not found") }
        return project
    }
}
