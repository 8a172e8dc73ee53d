import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects/{project}/environments…`: readers may GET (keys masked; writers see them whole), admins create,
/// change, delete and rotate keys (docs/api.md, "Environments"). Also the environment's SDK payload (`…/data`).
struct EnvironmentsController<Repository: ProjectRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("projects/:project/environments", use: create)
        api.get("projects/:project/environments", use: list)
        api.get("projects/:project/environments/:environment", use: show)
        api.patch("projects/:project/environments/:environment", use: update)
        api.delete("projects/:project/environments/:environment", use: delete)
        api.post("projects/:project/environments/:environment/keys/:kind/rotate", use: rotate)
        api.get("projects/:project/environments/:environment/data", use: data)
    }

    @Sendable func create(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let draft = try EnvironmentDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit))
        let environment = try await repository.createEnvironment(
            projectKey: try context.parameters.require("project"), draft: draft, actor: actor)
        return try JSONBody.response(encoding: environment, status: .created)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        let identity = try context.require(.reader)
        let environments = try await repository.environments(projectKey: try context.parameters.require("project"))
        return try JSONBody.response(encoding: Items(environments.map { $0.shown(to: identity.role) }))
    }

    @Sendable func show(_ request: Request, context: ManagementContext) async throws -> Response {
        let identity = try context.require(.reader)
        let environment = try await repository.environment(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("environment"))
        return try JSONBody.response(encoding: environment.shown(to: identity.role))
    }

    @Sendable func update(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        let key = try context.parameters.require("environment")
        let patch = try EnvironmentPatch(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit), key: key)
        return try JSONBody.response(encoding: try await repository.updateEnvironment(
            projectKey: try context.parameters.require("project"), key: key, patch: patch, actor: actor))
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        try await repository.deleteEnvironment(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("environment"), actor: actor)
        return Response(status: .noContent)
    }

    /// The body is optional here (no body: no grace period), so it is read by hand rather than with `JSONBody.parse`.
    @Sendable func rotate(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.admin)
        guard let kind = KeyKind(rawValue: try context.parameters.require("kind")) else {
            throw APIError.notFound("key kind must be sdk or mobile")
        }
        let bytes = try await JSONBody.bytes(of: request, limit: ManagementContext.bodyLimit)
        var body: JSONValue?
        if !bytes.isEmpty {
            guard let parsed = try? JSONParser.parse(bytes) else { throw APIError.badRequest("the request body is not valid JSON") }
            body = parsed
        }
        let rotation = try KeyRotation(json: body)
        return try JSONBody.response(encoding: try await repository.rotateKey(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
            kind: kind, rotation: rotation, actor: actor))
    }

    @Sendable func data(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let payload = try await repository.payload(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"))
        return JSONBody.response(payload.jsonBytes)
    }
}
