import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

extension ManagementStore {
    /// Creates a token; the secret is returned once and only its SHA-256 is stored.
    func createToken(name: String, role: Role, actor: Identity) async throws -> JSONValue {
        try await transaction { connection in
            let id = UUID()
            let secret = Identifiers.apiToken()
            try await connection.query(
                """
                INSERT INTO api_tokens (id, name, role, secret_sha256, created_by)
                VALUES (\(id), \(name), \(role.rawValue), \(Credentials.hash(secret)), \(actor.actor))
                """, logger: logger)
            var json = try await tokenJSON(id: id, connection: connection)
            try await connection.audit(actor: actor, action: "token.create", resource: "token/\(id.uuidString.lowercased())",
                                       before: nil, after: json, comment: nil, logger: logger)
            if case .object(var object) = json {
                object["token"] = .string(secret)
                json = .object(object)
            }
            return json
        }
    }

    func tokens() async throws -> [JSONValue] {
        let rows = try await client.query(
            "SELECT id, name, role, created_by, \(unescaped: SQL.timestamp("created_at")) FROM api_tokens ORDER BY created_at, name",
            logger: logger)
        var result: [JSONValue] = []
        for try await (id, name, role, createdBy, created) in rows.decode((UUID, String, String, String, String).self) {
            result.append(Self.tokenJSON(id: id, name: name, role: role, createdBy: createdBy, createdAt: created))
        }
        return result
    }

    func deleteToken(id: UUID, actor: Identity) async throws {
        try await transaction { connection in
            let before = try await tokenJSON(id: id, connection: connection)
            try await connection.query("DELETE FROM api_tokens WHERE id = \(id)", logger: logger)
            try await connection.audit(actor: actor, action: "token.delete", resource: "token/\(id.uuidString.lowercased())",
                                       before: before, after: nil, comment: nil, logger: logger)
        }
    }

    /// Makes `secret` an admin token named `name` (created, or kept if it exists): how
    /// `VANE_ADMIN_TOKEN` bootstraps access to a new installation.
    func ensureBootstrapToken(secret: String, name: String) async throws {
        try await transaction { connection in
            let hash = Credentials.hash(secret)
            let rows = try await connection.query(
                """
                INSERT INTO api_tokens (id, name, role, secret_sha256, created_by) VALUES (\(UUID()), \(name), 'admin', \(hash), 'system')
                ON CONFLICT (secret_sha256) DO UPDATE SET role = 'admin' RETURNING id, (xmax = 0)
                """, logger: logger)
            for try await (id, inserted) in rows.decode((UUID, Bool).self) where inserted {
                try await connection.audit(
                    actor: Identity(tokenID: "", name: "system", role: .admin), action: "token.create",
                    resource: "token/\(id.uuidString.lowercased())", before: nil,
                    after: ["name": .string(name), "role": "admin", "source": "VANE_ADMIN_TOKEN"], comment: nil, logger: logger)
            }
        }
    }

    private func tokenJSON(id: UUID, connection: PostgresConnection) async throws -> JSONValue {
        let rows = try await connection.query(
            "SELECT name, role, created_by, \(unescaped: SQL.timestamp("created_at")) FROM api_tokens WHERE id = \(id)", logger: logger)
        for try await (name, role, createdBy, created) in rows.decode((String, String, String, String).self) {
            return Self.tokenJSON(id: id, name: name, role: role, createdBy: createdBy, createdAt: created)
        }
        throw RepositoryError.notFound("token \(id.uuidString.lowercased()) does not exist")
    }

    private static func tokenJSON(id: UUID, name: String, role: String, createdBy: String, createdAt: String) -> JSONValue {
        ["id": .string(id.uuidString.lowercased()), "name": .string(name), "role": .string(role),
         "createdBy": .string(createdBy), "createdAt": .string(createdAt)]
    }
}
