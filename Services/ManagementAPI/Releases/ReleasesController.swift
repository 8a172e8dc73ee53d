import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects/{p}/flags/{f}/environments/{e}/scheduled-changes…` and `…/rollouts…`: readers may GET, writers
/// change (docs/api.md, "Releases"; docs/releases.md).
struct ReleasesController<Repository: ReleaseRepository>: Sendable {
    let repository: Repository

    private static var base: String { "projects/:project/flags/:flag/environments/:environment" }

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("\(Self.base)/scheduled-changes", use: createScheduledChange)
        api.get("\(Self.base)/scheduled-changes", use: scheduledChanges)
        api.get("\(Self.base)/scheduled-changes/:id", use: scheduledChange)
        api.delete("\(Self.base)/scheduled-changes/:id", use: cancelScheduledChange)
        api.post("\(Self.base)/rollouts", use: startRollout)
        api.get("\(Self.base)/rollouts", use: rollouts)
        api.get("\(Self.base)/rollouts/current", use: currentRollout)
        for command in [RolloutStatus.Command.pause, .resume, .rollback] {
            api.post("\(Self.base)/rollouts/current/\(command.rawValue)") { request, context in
                try await control(command, request: request, context: context)
            }
        }
    }

    private static func keys(_ context: ManagementContext) throws -> FlagEnvironmentKeys {
        FlagEnvironmentKeys(
            project: try context.parameters.require("project"), flag: try context.parameters.require("flag"),
            environment: try context.parameters.require("environment"))
    }

    private static func id(_ context: ManagementContext) throws -> UUID {
        guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw APIError.notFound("no such scheduled change") }
        return id
    }

    @Sendable func createScheduledChange(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let body = try await JSONBody.parse(request, limit: ManagementContext.bodyLimit)
        let now = Int(Date().timeIntervalSince1970 * 1000)
        let draft = try ScheduledChangeDraft(json: body, nowMilliseconds: now)
        return JSONBody.response(try await repository.createScheduledChange(try Self.keys(context), draft: draft, actor: actor),
            status: .created)
    }

    @Sendable func scheduledChanges(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return JSONBody.response(["items": .array(try await repository.scheduledChanges(try Self.keys(context)))])
    }

    @Sendable func scheduledChange(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return JSONBody.response(try await repository.scheduledChange(try Self.keys(context), id: try Self.id(context)))
    }

    @Sendable func cancelScheduledChange(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        try await repository.cancelScheduledChange(try Self.keys(context), id: try Self.id(context), actor: actor)
        return Response(status: .noContent)
    }

    @Sendable func startRollout(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let draft = try RolloutDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit))
        return JSONBody.response(try await repository.startRollout(try Self.keys(context), draft: draft, actor: actor), status: .created)
    }

    @Sendable func rollouts(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return JSONBody.response(["items": .array(try await repository.rollouts(try Self.keys(context)))])
    }

    @Sendable func currentRollout(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return JSONBody.response(try await repository.currentRollout(try Self.keys(context)))
    }

    private func control(_ command: RolloutStatus.Command, request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        return JSONBody.response(try await repository.control(try Self.keys(context), command: command, actor: actor))
    }
}
