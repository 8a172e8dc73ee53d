import ExperimentStats
import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects/{project}/experiments…`: readers may GET, writers change (docs/api.md, "Experiments").
struct ExperimentsController<Repository: ExperimentRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.post("projects/:project/experiments", use: create)
        api.get("projects/:project/experiments", use: list)
        api.get("projects/:project/experiments/:experiment", use: show)
        api.patch("projects/:project/experiments/:experiment", use: update)
        api.delete("projects/:project/experiments/:experiment", use: delete)
        api.post("projects/:project/experiments/:experiment/start", use: start)
        api.post("projects/:project/experiments/:experiment/stop", use: stop)
        api.get("projects/:project/experiments/:experiment/iterations", use: iterations)
        api.get("projects/:project/experiments/:experiment/results", use: results)
    }

    @Sendable func create(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let draft = try ExperimentDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit))
        let experiment = try await repository.create(projectKey: try context.parameters.require("project"), draft: draft, actor: actor)
        return try Self.response(experiment, status: .created)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return try Self.response(Items(items: try await repository.list(projectKey: try context.parameters.require("project"))))
    }

    @Sendable func show(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return try Self.response(try await repository.experiment(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment")))
    }

    @Sendable func update(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let key = try context.parameters.require("experiment")
        let patch = try ExperimentPatch(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit), key: key)
        return try Self.response(try await repository.update(
            projectKey: try context.parameters.require("project"), key: key, patch: patch, actor: actor))
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        try await repository.delete(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment"), actor: actor)
        return Response(status: .noContent)
    }

    @Sendable func start(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        return try Self.response(try await repository.start(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment"), actor: actor),
            status: .created)
    }

    @Sendable func stop(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        return try Self.response(try await repository.stop(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment"), actor: actor))
    }

    @Sendable func iterations(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        return try Self.response(Items(items: try await repository.iterations(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment"))))
    }

    @Sendable func results(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let number = try Self.iterationNumber(request.typedQuery("iteration"))
        let snapshot = try await repository.observations(
            projectKey: try context.parameters.require("project"), key: try context.parameters.require("experiment"),
            iteration: number)
        return try Self.response(ExperimentResultsBuilder.build(
            experiment: snapshot.experiment, iteration: snapshot.iteration, variationCount: snapshot.variationCount,
            observations: snapshot.observations, updatedAt: snapshot.updatedAt))
    }

    /// `?iteration=N`: a positive integer, or absent for the current or last iteration.
    static func iterationNumber(_ text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let number = Int(text), number >= 1 else {
            throw ValidationError(path: "iteration", "must be an iteration number (an integer ≥ 1)")
        }
        // Iteration numbers are PostgreSQL integers: a larger one cannot exist (and must not reach the query: 500).
        guard number <= Int(Int32.max) else { throw RepositoryError.notFound("iteration \(number) does not exist") }
        return number
    }

    private struct Items<Element: Encodable>: Encodable {
        var items: [Element]
    }

    private static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        JSONBody.response(Array(try JSONEncoder().encode(value)), status: status)
    }
}
