import Hummingbird
import KafkaKit
import Logging
import PostgresNIO
import PostgresSupport
import ServiceKit
import ServiceLifecycle

/// Assembles management-api: PostgreSQL pool, Kafka producer, outbox publisher and HTTP server.
struct ManagementApplication {
    /// The long-lived parts, exposed for tests and the maintenance commands.
    struct Parts: Sendable {
        let postgres: PostgresClient
        let store: ManagementStore
        let producer: KafkaProducer
        let topic: ConfigTopic
        let publisher: OutboxPublisher
        let availability: DatabaseAvailability
        let metrics: ServiceMetrics
        let scheduler: ReleaseScheduler
    }

    let settings: ManagementSettings
    let logger: Logger

    func makeParts() throws -> Parts {
        let metrics = ServiceMetrics()
        let postgres = PostgresClient(
            configuration: settings.database.clientConfiguration(maximumConnections: settings.databaseMaxConnections,
                minimumConnections: 2),
            backgroundLogger: logger)
        let store = ManagementStore(client: postgres, logger: logger)
        var producerConfiguration = settings.kafka.producer(clientID: "vane-management-api")
        producerConfiguration.messageTimeout = settings.kafkaMessageTimeout
        // Config changes are few and each is waited for (a kill switch must reach every SDK in well under a second):
        // librdkafka's 5 ms linger would only add 5 ms to every change. Records queued while a request is in flight
        // are still sent together.
        producerConfiguration.linger = .zero
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var adminConfiguration = settings.kafka.admin(clientID: "vane-management-api-admin")
        // librdkafka's development broker has no admin API; real brokers always have a controller.
        adminConfiguration.autoCreateWithoutController = true
        let topic = ConfigTopic(
            name: settings.configTopic, partitions: settings.configTopicPartitions,
            replicationFactor: settings.configTopicReplicationFactor,
            admin: try KafkaAdmin(configuration: adminConfiguration, logger: logger))
        let publisher = OutboxPublisher(store: store, producer: producer, topic: topic, metrics: metrics, logger: logger)
        let availability = DatabaseAvailability(database: settings.database, logger: logger)
        let scheduler = ReleaseScheduler(store: store, availability: availability, metrics: metrics, logger: logger)
        return Parts(
            postgres: postgres, store: store, producer: producer, topic: topic, publisher: publisher, availability: availability,
            metrics: metrics, scheduler: scheduler)
    }

    /// Every route of management-api with its middlewares, as the server runs them (also what the contract tests
    /// compare with docs/openapi.yaml; building it opens no connection).
    static func makeRouter(
        store: ManagementStore, availability: DatabaseAvailability, metrics: ServiceMetrics, staleDays: Int,
        dashboard: DashboardFiles, logger: Logger
    ) -> Router<ManagementContext> {
        let router = Router(context: ManagementContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: metrics))
        router.addOperationalRoutes(
            readiness: ClosureReadinessCheck { availability.isReachable ? nil : "PostgreSQL is unreachable" },
            metrics: metrics)
        APIContract.addDocumentRoute(to: router)
        DashboardRoutes(files: dashboard).add(to: router)
        router.add(middleware: DatabaseErrorMiddleware())
        let authenticator = TokenAuthenticator(client: store.client, logger: logger)
        ManagementRoutes(store: store, authenticator: authenticator, staleDays: staleDays).add(to: router)
        // Last: a registered path asked with another method gets 405 and Allow (only the router's 404 passes here).
        router.add(middleware: APIContract.methodNotAllowed(for: router.routes))
        return router
    }

    /// The HTTP application, running the parts as its services (PostgreSQL first, publisher last;
    /// the server stops before them).
    func makeApplication(_ parts: Parts) -> some ApplicationProtocol {
        let postgres = parts.postgres
        let availability = parts.availability
        let router = Self.makeRouter(
            store: parts.store, availability: availability, metrics: parts.metrics, staleDays: settings.staleDays,
            dashboard: DashboardFiles.load(folder: settings.dashboardFolder, logger: logger), logger: logger)

        let responder = DatabaseGuardResponder(
            inner: router.buildResponder(), availability: availability, requestTimeout: settings.databaseRequestTimeout)
        var app = Application(
            responder: responder,
            server: .guardedHTTP1(settings.http),
            configuration: .init(address: .hostname(settings.http.host, port: settings.http.port), serverName: "vane-management-api"),
            logger: logger)
        app.addServices(parts.postgres, parts.availability, parts.producer, parts.publisher, parts.scheduler)
        let adminToken = settings.adminToken
        let store = parts.store
        let publisher = parts.publisher
        let scheduler = parts.scheduler
        app.beforeServerStarts { [logger] in
            // Retried until PostgreSQL answers; a SIGTERM meanwhile stops the start cleanly (the
            // server then starts and stops at once, and the process exits 0).
            var pause: Duration = .milliseconds(500)
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                do {
                    try await cancelWhenGracefulShutdown {
                        try await Migrations.apply(client: postgres, logger: logger)
                        publisher.schemaReady.open()
                        scheduler.schemaReady.open()
                        if let adminToken { try await store.ensureBootstrapToken(secret: adminToken, name: "bootstrap-admin") }
                    }
                    return
                } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                    return
                } catch where DatabaseSettings.isUnavailable(error) {
                    logger.warning("PostgreSQL unavailable; retrying the migrations", metadata: ["error": "\(String(reflecting: error))"])
                }
                try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
                pause = min(pause * 2, .seconds(5))
            }
        }
        return app
    }
}
