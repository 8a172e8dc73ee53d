import Hummingbird
import Logging
import PostgresNIO
import PostgresSupport
import ServiceKit

/// Assembles events-processor: the PostgreSQL pool, the consumer service, and the HTTP server for
/// health and metrics.
struct ProcessorApplication {
    let settings: ProcessorSettings
    let logger: Logger

    func makePostgres() -> PostgresClient {
        PostgresClient(
            configuration: settings.database.clientConfiguration(maximumConnections: settings.databaseMaxConnections),
            backgroundLogger: logger)
    }

    func makeStore(_ postgres: PostgresClient) -> AnalyticsStore {
        AnalyticsStore(
            client: postgres, topic: settings.eventsTopic, delay: settings.delayMilliseconds,
            retention: settings.retentionMilliseconds, logger: logger,
            finalization: FinalizationConnection(database: settings.database, logger: logger))
    }

    /// The HTTP application running PostgreSQL and the consumer as its services (the server stops
    /// first, then the consumer commits what it holds, then the pool closes).
    func makeApplication() -> some ApplicationProtocol {
        let serviceMetrics = ServiceMetrics()
        let metrics = ProcessorMetrics(serviceMetrics)
        let postgres = makePostgres()
        let status = ProcessorStatus()
        // Probed off the pool: a readiness check through the pool would wait as long as the pool
        // does (up to a minute) while PostgreSQL is down.
        let availability = DatabaseAvailability(database: settings.database, logger: logger)
        let processor = ProcessorService(
            settings: settings, postgres: postgres, store: makeStore(postgres), metrics: metrics, status: status, logger: logger)

        let router = Router()
        router.add(middleware: JSONErrorMiddleware(metrics: serviceMetrics))
        router.addOperationalRoutes(
            readiness: ClosureReadinessCheck {
                if let reason = status.notReadyReason { return reason }
                return availability.isReachable ? nil : "PostgreSQL is unreachable"
            },
            metrics: serviceMetrics)
        var app = Application(
            router: router,
            server: .guardedHTTP1(settings.http),
            configuration: .init(address: .hostname(settings.http.host, port: settings.http.port), serverName: "vane-events-processor"),
            logger: logger)
        app.addServices(postgres, availability, processor)
        return app
    }
}
