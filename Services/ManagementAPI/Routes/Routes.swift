import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// The REST API under `/api/v1`.
struct ManagementRoutes {
    let store: ManagementStore
    let authenticator: TokenAuthenticator
    /// `VANE_STALE_DAYS`.
    var staleDays = 7

    func add(to router: Router<ManagementContext>) {
        let api = Self.apiGroup(of: router, authentication: TokenMiddleware(authenticator: authenticator))
        let projects = PostgresProjectRepository(store: store)
        ProjectsController(repository: projects).addRoutes(to: api)
        EnvironmentsController(repository: projects).addRoutes(to: api)
        FlagsController(repository: PostgresFlagRepository(store: store, staleDays: staleDays)).addRoutes(to: api)
        SegmentsController(repository: PostgresSegmentRepository(store: store)).addRoutes(to: api)
        TokensController(repository: PostgresTokenRepository(store: store), revoked: { [authenticator] in authenticator.invalidate() })
            .addRoutes(to: api)
        AuditController(repository: PostgresAuditRepository(store: store)).addRoutes(to: api)
        Self.addEvaluation(api, store: store)
        ExperimentsController(repository: PostgresExperimentRepository(store: store)).addRoutes(to: api)
        FlagInsightsRoutes(store: store, staleDays: staleDays).addRoutes(to: api)
        ReleasesController(repository: PostgresReleaseRepository(store: store)).addRoutes(to: api)
        DashboardAPIRoutes(store: store, staleDays: staleDays).addRoutes(to: api)
    }

    /// `/api/v1` behind `authentication`, the request checks and the domain errors' HTTP answers: the same group for
    /// the service and for the router tests with in-memory repositories.
    static func apiGroup(
        of router: Router<ManagementContext>, authentication: some RouterMiddleware<ManagementContext>
    ) -> RouterGroup<ManagementContext> {
        router.group("api/v1")
            .add(middleware: authentication)
            .add(middleware: RequestInputMiddleware())
            .add(middleware: DomainErrorMiddleware())
    }
}
