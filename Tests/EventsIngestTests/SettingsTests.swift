@testable import EventsIngest
import Testing

@Suite("events-ingest settings")
struct SettingsTests {
    @Test("defaults: port 8040, 5 MiB bodies, rate limit off, the documented topics and timeouts")
    func defaults() throws {
        let settings = try IngestSettings(environment: ["VANE_KAFKA_BROKERS": "127.0.0.1:9092, 127.0.0.2:9092"])
        #expect(settings.kafka.brokers == ["127.0.0.1:9092", "127.0.0.2:9092"])
        #expect(settings.http.port == 8040 && settings.http.host == "0.0.0.0")
        #expect(settings.configTopic == "vane.config" && settings.eventsTopic == "vane.events.raw")
        #expect(settings.maximumBodyBytes == 5 * 1024 * 1024)
        #expect(settings.rateLimit == nil)
        #expect(settings.kafkaMessageTimeout == .seconds(10))
        #expect(settings.dedupeCapacity == 100_000 && settings.dedupeWindow == .seconds(600))
        let application = IngestApplication(settings: settings, logger: .init(label: "test"))
        let producer = application.producerConfiguration()
        #expect(producer.isIdempotent && producer.acknowledgements == .all, "a 202 means acks=all, idempotent")
        #expect(producer.additionalProperties["message.max.bytes"] == String(5 * 1024 * 1024 + 64 * 1024))
    }

    @Test("every problem is reported at once")
    func problems() {
        do {
            _ = try IngestSettings(environment: [
                "VANE_HTTP_PORT": "80000", "VANE_EVENTS_MAX_BODY_BYTES": "12", "VANE_KAFKA_COMPRESSION": "brotli",
                "VANE_EVENTS_RATE_LIMIT_PER_SECOND": "-1",
            ])
            Issue.record("invalid settings were accepted")
        } catch {
            let text = "\(error)"
            for variable in ["VANE_KAFKA_BROKERS", "VANE_HTTP_PORT", "VANE_EVENTS_MAX_BODY_BYTES", "VANE_KAFKA_COMPRESSION",
                             "VANE_EVENTS_RATE_LIMIT_PER_SECOND"] {
                #expect(text.contains(variable), "\(variable) missing from: \(text)")
            }
        }
    }

    @Test("a rate limit gets a burst of twice the rate unless one is given")
    func rateLimit() throws {
        let limited = try IngestSettings(environment: ["VANE_KAFKA_BROKERS": "k:1", "VANE_EVENTS_RATE_LIMIT_PER_SECOND": "50"])
        #expect(limited.rateLimit == 50 && limited.rateLimitBurst == 100)
        let burst = try IngestSettings(environment: [
            "VANE_KAFKA_BROKERS": "k:1", "VANE_EVENTS_RATE_LIMIT_PER_SECOND": "50", "VANE_EVENTS_RATE_LIMIT_BURST": "7",
        ])
        #expect(burst.rateLimitBurst == 7)
    }
}
