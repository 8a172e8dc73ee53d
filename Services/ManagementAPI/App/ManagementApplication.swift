import Hummingbird
import KafkaKit
import Logging
import PostgresNIO
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
        let health: DatabaseHealth
        let metrics: ServiceMetrics
    }

    let settings: ManagementSettings
    let logger: Logger

    func makeParts() throws -> Parts {
        let metrics = ServiceMetrics()
        let postgres = PostgresClient(
            configuration: settings.database.clientConfiguration(maximumConnections: settings.databaseMaxConnections, minimumConnections: 2),
            backgroundLogger: logger)
        let store = ManagementStore(client: postgres, logger: logger)
        var producerConfiguration = settings.kafka.producer(clientID: "vane-management-api")
        producerConfiguration.messageTimeout = settings.kafkaMessageTimeout
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var adminConfiguration = settings.kafka.admin(clientID: "vane-management-api-admin")
        // librdkafka's development broker has no admin API; real brokers always have a controller.
        adminConfiguration.autoCreateWithoutController = true
        let topic = ConfigTopic(
            name: settings.configTopic, partitions: settings.configTopicPartitions,
            replicationFactor: settings.configTopicReplicationFactor,
            admin: try KafkaAdmin(configuration: adminConfiguration, logger: logger))
        let publisher = OutboxPublisher(store: store, producer: producer, topic: topic, metrics: metrics, logger: logger)
        let health = DatabaseHealth(client: postgres, logger: logger)
        return Parts(postgres: postgres, store: store, producer: producer, topic: topic, publisher: publisher, health: health, metrics: metrics)
    }

    /// The HTTP application, running the parts as its services (PostgreSQL first, publisher last;
    /// the server stops before them).
    func makeApplication(_ parts: Parts) -> Application<RouterResponder<ManagementContext>> {
        let router = Router(context: ManagementContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: parts.metrics))
        let postgres = parts.postgres
        let health = parts.health
        router.addOperationalRoutes(
            readiness: ClosureReadinessCheck { health.isReachable ? nil : "PostgreSQL is unreachable" },
            metrics: parts.metrics)
        router.add(middleware: DatabaseAvailabilityMiddleware(health: health))
        let authenticator = TokenAuthenticator(client: postgres, logger: logger)
        ManagementRoutes(store: parts.store, authenticator: authenticator, staleDays: settings.staleDays).add(to: router)

        var app = Application(
            router: router,
            server: .guardedHTTP1(settings.http),
            configuration: .init(address: .hostname(settings.http.host, port: settings.http.port), serverName: "vane-management-api"),
            logger: logger)
        app.addServices(parts.postgres, parts.health, parts.producer, parts.publisher)
        let adminToken = settings.adminToken
        let store = parts.store
        let publisher = parts.publisher
        app.beforeServerStarts { [logger] in
            try await Migrations.apply(client: postgres, logger: logger)
            publisher.schemaReady.open()
            if let adminToken { try await store.ensureBootstrapToken(secret: adminToken, name: "bootstrap-admin") }
        }
        return app
    }
}
