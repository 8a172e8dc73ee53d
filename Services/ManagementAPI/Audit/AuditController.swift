import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// `GET /api/v1/audit` (reader): the audit log, newest first, filtered by `resource`, `since` and `until`, in pages
/// of `limit` (1...500, default 50) continued with `cursor` (docs/api.md, "Audit log"). `GET /audit/latest`, the
/// dashboard's change poll, is ``DashboardAPIRoutes``'s.
struct AuditController<Repository: AuditRepository>: Sendable {
    let repository: Repository

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.get("audit", use: list)
    }

    @Sendable func list(_ request: Request, context: ManagementContext) async throws -> Response {
        _ = try context.require(.reader)
        let query = try AuditQuery(queryItems: request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) })
        return try JSONBody.response(encoding: try await repository.page(query))
    }
}
