import ModelsCore
import Prometheus
import ServiceKit

/// events-ingest's own metrics, next to ServiceKit's HTTP metrics in the same registry.
struct IngestMetrics: Sendable {
    /// Why a batch was not accepted; the label of `vane_events_batches_rejected_total`.
    enum RejectionReason: String, Sendable, CaseIterable {
        case notReady = "not_ready"
        case unauthorized
        case unknownEnvironment = "unknown_environment"
        case badRequest = "bad_request"
        case tooLarge = "too_large"
        case rateLimited = "rate_limited"
        case overloaded
        case kafkaUnavailable = "kafka_unavailable"
    }

    private let acceptedBatches: [EventsRecord.Source: Counter]
    private let acceptedEvents: [EventsRecord.Source: Counter]
    private let rejected: [RejectionReason: Counter]
    let acceptedBytes: Counter
    let duplicates: Counter
    let publishDuration: DurationHistogram
    let inFlightBatches: Gauge
    let inFlightBytes: Gauge
    let kafkaAvailable: Gauge

    init(_ metrics: ServiceMetrics) {
        let sources: [EventsRecord.Source] = [.server, .mobile, .client]
        acceptedBatches = Dictionary(uniqueKeysWithValues: sources.map {
            ($0, metrics.counter("events_batches_accepted", help: "Event batches written to Kafka and answered 202.",
                                 labels: [("source", $0.rawValue)]))
        })
        acceptedEvents = Dictionary(uniqueKeysWithValues: sources.map {
            ($0, metrics.counter("events_accepted", help: "Events in accepted batches.", labels: [("source", $0.rawValue)]))
        })
        rejected = Dictionary(uniqueKeysWithValues: RejectionReason.allCases.map {
            ($0, metrics.counter("events_batches_rejected", help: "Event batches not accepted, by reason.",
                                 labels: [("reason", $0.rawValue)]))
        })
        acceptedBytes = metrics.counter("events_accepted_bytes", help: "Bytes of accepted event arrays (decompressed).")
        duplicates = metrics.counter(
            "events_batches_duplicate", help: "Batches answered 202 without a new record: their payload id was accepted before.")
        publishDuration = metrics.durationHistogram(
            "events_publish_duration", help: "Time from handing a batch to the producer until Kafka acknowledged it.",
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
                      .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)])
        inFlightBatches = metrics.gauge("events_in_flight_batches", help: "Batches between reading and Kafka's acknowledgement.")
        inFlightBytes = metrics.gauge("events_in_flight", unit: "bytes", help: "Bytes held for batches in flight.")
        kafkaAvailable = metrics.gauge(
            "events_kafka_available", help: "1 while Kafka acknowledges batches; 0 after a failed delivery until one succeeds.")
        kafkaAvailable.set(1.0)
    }

    func accepted(source: EventsRecord.Source, events: Int, bytes: Int) {
        acceptedBatches[source]?.increment()
        acceptedEvents[source]?.increment(by: Int64(events))
        acceptedBytes.increment(by: Int64(bytes))
    }

    func rejected(_ reason: RejectionReason) {
        rejected[reason]?.increment()
    }
}
