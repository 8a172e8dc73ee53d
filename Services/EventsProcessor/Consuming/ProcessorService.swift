import KafkaKit
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What `/readyz` reports.
final class ProcessorStatus: Sendable {
    private let state = Mutex<(migrated: Bool, consuming: Bool)>((false, false))

    func markMigrated() { state.withLock { $0.migrated = true } }
    func setConsuming(_ consuming: Bool) { state.withLock { $0.consuming = consuming } }

    /// nil when ready, else why not.
    var notReadyReason: String? {
        let current = state.withLock { $0 }
        if !current.migrated { return "analytics schema not migrated yet" }
        if !current.consuming { return "not consuming" }
        return nil
    }
}

/// The consumer-group member: applies the schema, then runs consumer sessions until shutdown.
///
/// A session is one `KafkaConsumer` (one group membership). It starts each assigned partition at
/// the offset stored in PostgreSQL, remembering that row's epoch; chunks are committed with the
/// epochs they were read under. When a replay rewinds the topic (new epochs), the session ends
/// and a new one rejoins the group, which seeks every partition to its rewound offset. Errors
/// (PostgreSQL or Kafka unavailable) end a session too; the next starts after a backoff. Nothing
/// a session did is lost or doubled by ending it: only committed chunks count, and they carry
/// their offsets.
struct ProcessorService: Service {
    let settings: ProcessorSettings
    let postgres: PostgresClient
    let store: AnalyticsStore
    let metrics: ProcessorMetrics
    let status: ProcessorStatus
    let logger: Logger

    func run() async throws {
        do {
            try await consumeUntilShutdown()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    private func consumeUntilShutdown() async throws {
        // A SIGTERM while PostgreSQL is unreachable at start ends this at once, and cleanly.
        guard try await migrate() else { return }
        var backoff: Duration = .milliseconds(500)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await runSession()
                backoff = .milliseconds(500)
            } catch ProcessorError.epochChanged(let partition, let expected, let found) {
                logger.notice(
                    "a replay rewound the topic; rejoining the group",
                    metadata: ["partition": "\(partition)", "epoch": "\(expected)→\(found)"])
                backoff = .milliseconds(500)
            } catch {
                logger.error("consumer session failed", metadata: ["error": "\(String(reflecting: error))"])
                let pause = backoff
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                backoff = min(backoff * 2, .seconds(30))
            }
            status.setConsuming(false)
            metrics.sessionRestarts.increment()
        }
    }

    /// Applies the analytics schema, retrying while PostgreSQL is unreachable; false when the
    /// service is stopping (graceful shutdown interrupts the wait for a connection).
    private func migrate() async throws -> Bool {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { [postgres, logger] in
                    try await AnalyticsMigrations.apply(client: postgres, logger: logger)
                }
                status.markMigrated()
                return true
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                return false
            } catch {
                logger.warning("applying the analytics schema failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            }
        }
        return false
    }

    private func runSession() async throws {
        let epochs = PartitionEpochs()
        let store = self.store
        let logger = self.logger
        let handler = KafkaRebalanceHandler(
            onAssign: { partitions in
                let positions = try await store.positions(partitions: partitions.map(\.partition))
                var start: [KafkaTopicPartition: KafkaOffset] = [:]
                for partition in partitions {
                    let position = positions[partition.partition]
                    epochs.set(partition.partition, position?.epoch ?? 0)
                    if let position { start[partition] = .offset(position.nextOffset) }
                }
                logger.info("partitions assigned", metadata: ["start": "\(start.map { "\($0.key.partition)@\($0.value)" }.sorted())"])
                return start
            },
            onRevoke: { partitions in epochs.remove(partitions.map(\.partition)) })
        var configuration = settings.kafka.consumer(
            clientID: "vane-events-processor", groupID: settings.consumerGroup, topics: [settings.eventsTopic])
        configuration.sessionTimeout = settings.kafkaSessionTimeout
        configuration.heartbeatInterval = min(.seconds(3), settings.kafkaSessionTimeout / 4)
        // A replay pauses chunk commits while it rewinds; stay in the group meanwhile.
        configuration.maximumPollInterval = .seconds(600)
        let consumer = try KafkaConsumer(configuration: configuration, rebalanceHandler: handler, logger: logger)
        status.setConsuming(true)
        let loop = ChunkingLoop(store: store, settings: settings.loopSettings(serving: true), metrics: metrics, logger: logger)
        do {
            try await loop.consume(consumer.messages, epochs: epochs)
        } catch {
            try? await consumer.close()
            throw error
        }
        try await consumer.close()
    }
}
