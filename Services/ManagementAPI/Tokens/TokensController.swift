import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/tokens…` (admin only): create, list, revoke (docs/api.md, "Tokens").
struct TokensController<Repository: TokenRepository>: Sendable {
    let repository: Repository
    /// Called after a revocation, so that this replica stops accepting the token at once.
    let revoked: @Sendable () -> Void

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("tokens", use: create)
        api.get("tokens", use: list)
        api.delete("tokens/:id", use: delete)
    }

    @Sendable func create(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let draft = try TokenDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit))
        return try Self.response(try await repository.create(draft, actor: actor), status: .created)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.admin)
        return try Self.response(Items(items: try await repository.list()))
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let id = try TokenDraft.id(try context.parameters.require("id"))
        do {
            try await repository.delete(id: id, actor: actor)
        } catch TokenRepositoryError.notFound(let id) {
            throw APIError.notFound("token \(id.uuidString.lowercased()) does not exist")
        }
        revoked()
        return Response(status: .noContent)
    }

    private struct Items<Element: Encodable>: Encodable {
        var items: [Element]
    }

    private static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        JSONBody.response(Array(try JSONEncoder().encode(value)), status: status)
    }
}
