import Foundation
import ModelsCore
import ServiceKit

/// ``TokenRepository`` on PostgreSQL (`api_tokens`, through ``ManagementStore``): each mutation is one transaction
/// with its audit entry.
struct PostgresTokenRepository: TokenRepository {
    let store: ManagementStore

    func create(_ draft: TokenDraft, actor: Identity) async throws -> CreatedToken {
        let json = try await store.createToken(name: draft.name, role: draft.role, actor: actor)
        guard let secret = json["token"]?.stringValue else { throw DecodingError.missingSecret }
        return CreatedToken(token: try Self.token(json), secret: secret)
    }

    func list() async throws -> [APIToken] {
        try await store.tokens().map(Self.token)
    }

    func delete(id: UUID, actor: Identity) async throws {
        do {
            try await store.deleteToken(id: id, actor: actor)
        } catch let error as RepositoryError where error.code == .notFound {
            throw TokenRepositoryError.notFound(id)
        }
    }

    private enum DecodingError: Error { case missingSecret, malformed(String) }

    /// The store's row JSON as the domain type.
    private static func token(_ json: JSONValue) throws -> APIToken {
        guard let id = json["id"]?.stringValue, let name = json["name"]?.stringValue,
              let role = json["role"]?.stringValue.flatMap(Role.init(rawValue:)), let createdAt = json["createdAt"]?.stringValue,
              let createdBy = json["createdBy"]?.stringValue
        else { throw DecodingError.malformed(JSONWriter.string(json)) }
        return APIToken(id: id, name: name, role: role, createdAt: createdAt, createdBy: createdBy)
    }
}
