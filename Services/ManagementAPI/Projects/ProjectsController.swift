import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects…`: readers may GET, admins create, rename and delete (docs/api.md, "Projects"). A project is
/// shown with its environments, whose keys readers see masked.
struct ProjectsController<Repository: ProjectRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("projects", use: create)
        api.get("projects", use: list)
        api.get("projects/:project", use: show)
        api.patch("projects/:project", use: update)
        api.delete("projects/:project", use: delete)
    }

    @Sendable func create(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let draft = try ProjectDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit))
        return try JSONBody.response(encoding: try await repository.create(draft, actor: actor), status: .created)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return try JSONBody.response(encoding: Items(try await repository.projects()))
    }

    @Sendable func show(_ request: Request, context: ManagementContext) async throws -> Response {
        let identity = try context.require(.reader)
        let key = try context.parameters.require("project")
        let project = try await repository.project(key: key)
        let environments = try await repository.environments(projectKey: key).map { $0.shown(to: identity.role) }
        return try JSONBody.response(encoding: ProjectWithEnvironments(project: project, environments: environments))
    }

    @Sendable func update(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let key = try context.parameters.require("project")
        let patch = try ProjectPatch(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit), key: key)
        return try JSONBody.response(encoding: try await repository.update(key: key, patch: patch, actor: actor))
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        try await repository.delete(key: try context.parameters.require("project"), actor: actor)
        return Response(status: .noContent)
    }
}
