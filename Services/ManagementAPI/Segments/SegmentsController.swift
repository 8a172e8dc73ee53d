import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `/api/v1/projects/{project}/environments/{environment}/segments…`: list and get (reader), create-or-replace
/// and delete (writer), with an optional `?comment=` for the audit log, `ETag: "<version>"` on a segment, `If-Match` on its
/// writes and `If-None-Match: *` (create only) on PUT (docs/api.md, "Segments").
struct SegmentsController<Repository: SegmentRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.get("projects/:project/environments/:environment/segments", use: list)
        api.get("projects/:project/environments/:environment/segments/:segment", use: get)
        api.put("projects/:project/environments/:environment/segments/:segment", use: put)
        api.delete("projects/:project/environments/:environment/segments/:segment", use: delete)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let segments = try await repository.list(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"))
        return try JSONBody.response(encoding: Items(segments))
    }

    @Sendable func get(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let segment = try await repository.segment(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
            key: try context.parameters.require("segment"))
        return try JSONBody.response(encoding: segment, headers: .eTag(version: segment.version))
    }

    /// 201 when the PUT created the segment, 200 when it replaced it; 412 when `If-Match` names another version (or the
    /// segment does not exist), or `If-None-Match: *` finds one. The path's key is checked before the body is read.
    @Sendable func put(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        let key = try SegmentDraft.key(try context.parameters.require("segment"))
        let draft = try SegmentDraft(json: try await JSONBody.parse(request, limit: ManagementContext.bodyLimit), key: key)
        let result = try await repository.put(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
            key: key, draft: draft, precondition: try Self.precondition(request), comment: request.query("comment"), actor: actor)
        return try JSONBody.response(
            encoding: result.segment, status: result.created ? .created : .ok, headers: .eTag(version: result.segment.version))
    }

    @Sendable func delete(_ request: Request, context: ManagementContext) async throws -> Response {
        let actor = try context.require(.writer)
        try await repository.delete(
            projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
            key: try context.parameters.require("segment"), precondition: try Self.precondition(request), comment: request.query("comment"),
            actor: actor)
        return Response(status: .noContent)
    }

    private static func precondition(_ request: Request) throws -> WritePrecondition {
        WritePrecondition(version: try request.ifMatchVersion(), absent: try request.ifNoneMatchAny())
    }
}
