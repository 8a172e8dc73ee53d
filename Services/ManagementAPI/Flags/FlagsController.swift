import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects/{p}/flags…`: flags (writers change, readers read) and their targeting per environment, with
/// `ETag`/`If-Match` on the targeting (docs/api.md, "Flags" and "Targeting").
struct FlagsController<Repository: FlagRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("projects/:project/flags", use: create)
        api.get("projects/:project/flags", use: list)
        api.get("projects/:project/flags/:flag", use: get)
        api.patch("projects/:project/flags/:flag", use: update)
        api.delete("projects/:project/flags/:flag", use: delete)
        api.get("projects/:project/flags/:flag/environments/:environment", use: targeting)
        api.put("projects/:project/flags/:flag/environments/:environment", use: replaceTargeting)
        api.patch("projects/:project/flags/:flag/environments/:environment", use: patchTargeting)
    }

    @Sendable func create(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let draft = try FlagDraft(json: try await Self.body(request))
        let flag = try await repository.create(draft, projectKey: try context.parameters.require("project"), actor: actor)
        return try JSONBody.response(encoding: flag, status: .created)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let query = try FlagListQuery(
            tag: request.query("tag"), text: request.query("q"), stale: request.typedQuery("stale"),
            environment: request.query("environment"))
        let flags = try await repository.list(projectKey: try context.parameters.require("project"), query: query)
        return try JSONBody.response(encoding: Items(flags))
    }

    @Sendable func get(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let flag = try await repository.flag(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("flag"))
        return try JSONBody.response(encoding: flag)
    }

    @Sendable func update(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let patch = try FlagSettingsPatch(json: try await Self.body(request))
        let flag = try await repository.update(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("flag"), patch: patch, actor: actor)
        return try JSONBody.response(encoding: flag)
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        try await repository.delete(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("flag"), actor: actor)
        return Response(status: .noContent)
    }

    @Sendable func targeting(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let targeting = try await repository.targeting(try Self.keys(context))
        return try JSONBody.response(encoding: targeting, headers: .eTag(version: targeting.version))
    }

    @Sendable func replaceTargeting(_ request: Request, context: ManagementContext) async throws -> Response {
        try await changeTargeting(request, context: context, merge: false)
    }

    @Sendable func patchTargeting(_ request: Request, context: ManagementContext) async throws -> Response {
        try await changeTargeting(request, context: context, merge: true)
    }

    private func changeTargeting(_ request: Request, context: ManagementContext, merge: Bool) async throws -> Response {
        let actor = try context.require(.writer)
        let keys = try Self.keys(context)
        let change = try TargetingChangeRequest(
            body: try await Self.body(request), merge: merge, ifMatch: try request.ifMatchVersion(), comment: request.query("comment"))
        let targeting = try await repository.changeTargeting(keys, change, actor: actor)
        return try JSONBody.response(encoding: targeting, headers: .eTag(version: targeting.version))
    }

    private static func keys(_ context: ManagementContext) throws -> FlagEnvironmentKeys {
        FlagEnvironmentKeys(
            project: try context.parameters.require("project"), flag: try context.parameters.require("flag"),
            environment: try context.parameters.require("environment"))
    }

    private static func body(_ request: Request) async throws -> JSONValue {
        try await JSONBody.parse(request, limit: ManagementContext.bodyLimit)
    }
}
