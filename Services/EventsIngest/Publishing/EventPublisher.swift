import KafkaKit
import Logging

/// Writes accepted batches to `vane.events.raw` and reports only what Kafka acknowledged.
///
/// One batch is one record, keyed by environment id (so an environment's batches stay in one
/// partition, in order), sent by the idempotent producer with `acks=all`: retries inside the
/// producer never duplicate a record, and a send returns only once all in-sync replicas stored it.
final class EventPublisher: Sendable {
    /// What happened to a batch.
    enum Outcome: Sendable, Equatable {
        /// Kafka acknowledged the new record.
        case written
        /// The payload id was accepted moments ago; nothing new was written.
        case duplicate
    }

    /// Why a batch was not written. Nothing was acknowledged; the SDK may send it again.
    enum Failure: Error, Sendable, Equatable {
        /// Kafka did not acknowledge in time, or could not be reached (or an earlier failure is
        /// still being probed).
        case kafkaUnavailable(String)
        /// The service is shutting down.
        case shuttingDown
    }

    private let producer: KafkaProducer
    private let topic: String
    private let availability = KafkaAvailability()
    private let recentPayloads: RecentPayloads?
    private let metrics: IngestMetrics
    private let logger: Logger

    init(producer: KafkaProducer, topic: String, recentPayloads: RecentPayloads?, metrics: IngestMetrics, logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.recentPayloads = recentPayloads
        self.metrics = metrics
        self.logger = logger
    }

    /// Publishes one record value for `environmentID`.
    ///
    /// - Parameter payloadKey: Identifies the batch for deduplication (environment and the SDK's
    ///   payload id); nil when the id was generated here, so it cannot repeat.
    func publish(_ value: [UInt8], environmentID: String, payloadKey: String?, now: Int) async throws(Failure) -> Outcome {
        guard let payloadKey, let recentPayloads else {
            try await send(value, environmentID: environmentID)
            return .written
        }
        switch await recentPayloads.claim(payloadKey, now: now) {
        case .duplicate:
            metrics.duplicates.increment()
            return .duplicate
        case .publish:
            do {
                try await send(value, environmentID: environmentID)
                recentPayloads.finish(payloadKey, accepted: true, now: now)
                return .written
            } catch {
                recentPayloads.finish(payloadKey, accepted: false, now: now)
                throw error
            }
        }
    }

    private func send(_ value: [UInt8], environmentID: String) async throws(Failure) {
        let admission = availability.admit()
        guard admission != .refuse else {
            throw .kafkaUnavailable("Kafka is unavailable; a delivery is being retried")
        }
        let start = ContinuousClock.now
        do {
            _ = try await producer.send(KafkaRecord(topic: topic, key: Array(environmentID.utf8), value: value))
            metrics.publishDuration.record(ContinuousClock.now - start)
            if availability.record(kafkaReachable: true, admission: admission) {
                metrics.kafkaAvailable.set(1.0)
                logger.notice("Kafka acknowledges event batches again", metadata: ["topic": "\(topic)"])
            }
        } catch {
            switch error.code {
            case .shutdown, .drainTimedOut:
                availability.abandon(admission)
                throw .shuttingDown
            case .messageSizeTooLarge:
                // The broker refuses records this large: a configuration mismatch, not an outage.
                _ = availability.record(kafkaReachable: true, admission: admission)
                logger.error(
                    "Kafka refused an event batch as too large; raise the topic's max.message.bytes or lower VANE_EVENTS_MAX_BODY_BYTES",
                    metadata: ["topic": "\(topic)", "bytes": "\(value.count)"])
                throw .kafkaUnavailable("Kafka refused the batch as too large")
            default:
                if availability.record(kafkaReachable: false, admission: admission) {
                    metrics.kafkaAvailable.set(0.0)
                    logger.warning(
                        "Kafka did not acknowledge an event batch; refusing batches until a probe succeeds",
                        metadata: ["topic": "\(topic)", "error": "\(error)"])
                } else {
                    logger.debug("event batch not acknowledged", metadata: ["error": "\(error)"])
                }
                throw .kafkaUnavailable("Kafka did not acknowledge the batch: \(error.code.name)")
            }
        }
    }
}
