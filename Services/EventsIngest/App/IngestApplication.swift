import ConfigFeed
import Hummingbird
import KafkaKit
import Logging
import NIOCore
import ServiceKit
import ServiceLifecycle

/// Assembles events-ingest: the config feed (environments and key hashes), the Kafka producer and
/// the HTTP server, run as one service group.
struct IngestApplication {
    let settings: IngestSettings
    let logger: Logger

    /// The services in start order. Shutdown runs in reverse: the server first (it stops accepting
    /// and finishes the requests in flight, whose batches the producer is still delivering), then
    /// the producer drains, then the feed stops.
    func makeServices() throws -> [any Service] {
        let metrics = ServiceMetrics()
        let ingestMetrics = IngestMetrics(metrics)
        let directory = EnvironmentDirectory()
        let feed = ConfigFeed(kafka: settings.kafka, topic: settings.configTopic, sink: directory, metrics: metrics, logger: logger)
        let producer = try KafkaProducer(configuration: producerConfiguration(), logger: logger)
        let recentPayloads = settings.dedupeCapacity > 0
            ? RecentPayloads(capacity: settings.dedupeCapacity, windowMilliseconds: Int(settings.dedupeWindow.components.seconds * 1000))
            : nil
        let publisher = EventPublisher(
            producer: producer, topic: settings.eventsTopic, recentPayloads: recentPayloads, metrics: ingestMetrics, logger: logger)
        let intake = EventIntake(
            directory: directory, notReadyReason: { feed.notReadyReason }, publisher: publisher,
            budget: InFlightBudget(maximumBatches: settings.maximumInFlightBatches, maximumBytes: settings.maximumInFlightBytes),
            rateLimiter: settings.rateLimit.map { EnvironmentRateLimiter(batchesPerSecond: $0, burst: settings.rateLimitBurst) },
            maximumBodyBytes: settings.maximumBodyBytes, metrics: ingestMetrics, logger: logger)

        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: metrics))
        router.addOperationalRoutes(readiness: ClosureReadinessCheck { feed.notReadyReason }, metrics: metrics)
        EventRoutes(intake: intake).add(to: router)
        let app = Application(
            router: router,
            server: .guardedHTTP1(settings.http, idleTimeout: settings.idleTimeout),
            configuration: .init(
                address: .hostname(settings.http.host, port: settings.http.port), serverName: "vane-events-ingest", backlog: 1024,
                availableConnectionsDelegate: .maximum(settings.maximumConnections, logger: logger)),
            logger: logger)
        return [feed, producer, app]
    }

    /// acks=all and idempotence are KafkaKit's defaults and are what makes a 202 trustworthy.
    func producerConfiguration() -> KafkaProducerConfiguration {
        var configuration = settings.kafka.producer(clientID: "vane-events-ingest")
        configuration.isIdempotent = true
        configuration.acknowledgements = .all
        configuration.messageTimeout = settings.kafkaMessageTimeout
        configuration.linger = settings.kafkaLinger
        configuration.compression = settings.kafkaCompression
        // By the time the producer drains, the server has answered every request; what is left is
        // only what a request gave up on, so the drain can be short.
        configuration.shutdownDrainTimeout = .seconds(3)
        configuration.additionalProperties = [
            // A record is one whole batch plus its envelope (ids, user agent).
            "message.max.bytes": String(settings.maximumBodyBytes + 64 * 1024),
            // Reconnect within a second after a broker outage (librdkafka backs off up to 10 s).
            "reconnect.backoff.max.ms": "1000",
        ]
        return configuration
    }

    /// How long shutdown may take: requests in flight wait at most the Kafka delivery timeout.
    var gracefulShutdownTimeout: Duration { settings.kafkaMessageTimeout + .seconds(5) }
}
