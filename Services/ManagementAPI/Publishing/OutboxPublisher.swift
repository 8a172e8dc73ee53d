import Foundation
import KafkaKit
import Logging
import ModelsCore
import NIOCore
import PostgresNIO
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Sends outbox rows to `vane.config` in commit order and marks them sent only after Kafka
/// acknowledged them; woken by LISTEN/NOTIFY, with a periodic sweep as a safety net.
///
/// One replica publishes at a time (a session advisory lock), so records of one item reach the
/// topic in version order. When the topic turns out empty — a fresh broker — the full current state
/// is republished.
final class OutboxPublisher: Service, Sendable {
    struct Settings: Sendable {
        var sweepInterval: Duration = .seconds(1)
        var topicCheckInterval: Duration = .seconds(10)
        var batchSize: Int = 1000
        /// Sent rows are kept this long (for diagnosis), then deleted.
        var retention: Duration = .seconds(3600)
        /// How long a graceful shutdown waits for the batch in progress before the publisher
        /// returns without it (its queries may be stuck on a frozen PostgreSQL; closing the pool,
        /// which comes next, ends them).
        var shutdownGrace: Duration = .seconds(3)
    }

    static let lockID: Int64 = 0x7661_6E65_6F75_7462  // "vaneoutb"

    private let store: ManagementStore
    private let producer: KafkaProducer
    private let topic: ConfigTopic
    private let settings: Settings
    private let logger: Logger
    private let published: Counter
    private let failures: Counter
    private let pending: Gauge
    /// Opened once the schema is migrated; publishing waits for it.
    let schemaReady = StartupGate()
    private let lastPrune = Mutex(ContinuousClock.now - .seconds(3600))

    init(store: ManagementStore, producer: KafkaProducer, topic: ConfigTopic, settings: Settings = Settings(),
         metrics: ServiceMetrics, logger: Logger) {
        self.store = store
        self.producer = producer
        self.topic = topic
        self.settings = settings
        self.logger = logger
        published = metrics.counter("outbox_published_records", help: "Outbox records acknowledged by Kafka.")
        failures = metrics.counter("outbox_publish_failures", help: "Failed attempts to publish outbox records.")
        pending = metrics.gauge("outbox_pending_records", help: "Outbox records not yet acknowledged by Kafka.")
    }

    func run() async throws {
        let (finished, finish) = AsyncStream<Void>.makeStream()
        // Unstructured, so that it can be left behind; it inherits the graceful shutdown signal.
        let work = Task {
            defer { finish.finish() }
            try? await self.publishUntilShutdown()
        }
        let grace = settings.shutdownGrace
        let completed = await withTaskCancellationHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await _ in finished {}
                    return !Task.isCancelled
                }
                group.addTask {
                    try? await gracefulShutdown()
                    try? await Task.sleep(for: grace)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        } onCancel: {
            work.cancel()
        }
        if completed {
            // Nothing else uses the admin client; its librdkafka threads must not outlive the process's
            // exit (see KafkaAdmin.close). A batch left behind may still be using it, so it is then left alone.
            await topic.admin.close()
        } else {
            work.cancel()
            logger.warning("the outbox batch in progress did not finish during shutdown; it stays pending and is sent again later")
        }
    }

    private func publishUntilShutdown() async throws {
        // With PostgreSQL unreachable at start the schema is never migrated; a SIGTERM must still
        // stop this service at once (the gate's wait ends on cancellation).
        await cancelWhenGracefulShutdown { await self.schemaReady.wait() }
        guard schemaReady.isOpen else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // Cancelled on graceful shutdown, so that waiting for a connection while PostgreSQL
                // is down ends too. A batch interrupted between Kafka's acknowledgement and the
                // mark stays pending and is sent again by the next publisher (at least once; the
                // consumers keep the highest version of each item).
                try await cancelWhenGracefulShutdown {
                    try await self.store.client.withConnection { connection in
                        try await self.publishWhileHoldingLock(connection)
                    }
                }
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                break
            } catch {
                logger.warning("outbox publisher interrupted; retrying", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: settings.sweepInterval)
        }
    }

    /// Publishes until shutdown if this replica wins the publisher lock; returns at once otherwise.
    private func publishWhileHoldingLock(_ connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockID))", logger: logger)
        var acquired = false
        for try await value in rows.decode(Bool.self) { acquired = value }
        guard acquired else { return }  // another replica publishes; check again after a sweep interval
        logger.info("publishing the outbox", metadata: ["topic": "\(topic.name)"])
        do {
            try await publish(listeningOn: connection)
        } catch {
            // The connection goes back to the pool: release the lock (closing the session would too).
            await unlock(connection)
            throw error
        }
        await unlock(connection)
    }

    /// Releases the publisher lock, unless the session is gone (which released it). A query
    /// written to a closed connection would never be answered, so it is not sent.
    private func unlock(_ connection: PostgresConnection) async {
        guard !connection.isClosed else { return }
        _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockID))", logger: logger)
    }

    private func publish(listeningOn connection: PostgresConnection) async throws {
        try await connection.listen(on: ManagementStore.outboxChannel) { notifications in
            let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            wake.yield()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await _ in notifications { wake.yield() }
                }
                group.addTask { [settings] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: settings.sweepInterval)
                        wake.yield()
                    }
                }
                var state = try await topic.ensure()
                var republishedSinceEmpty = false
                var lastTopicCheck = ContinuousClock.now
                for await _ in wakeups.cancelOnGracefulShutdown() {
                    if ContinuousClock.now - lastTopicCheck >= settings.topicCheckInterval {
                        do {
                            state = try await topic.ensure()
                            lastTopicCheck = .now
                        } catch {
                            logger.warning("cannot describe the config topic", metadata: ["error": "\(error)"])
                        }
                    }
                    if state.isEmpty && !republishedSinceEmpty {
                        let count = try await republish()
                        republishedSinceEmpty = true
                        logger.notice("config topic is empty (a new broker?); republished the current state",
                            metadata: ["records": "\(count)"])
                    } else if !state.isEmpty {
                        republishedSinceEmpty = false
                    }
                    if try await drain(partitionCount: state.partitionCount) {
                        state.isEmpty = false
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// Sends every pending row; true when something was published. A failed send leaves its row
    /// pending for the next sweep.
    @discardableResult
    func drain(partitionCount: Int) async throws -> Bool {
        var publishedAny = false
        while true {
            let rows = try await store.client.query(
                """
                SELECT id, environment_id::text, record_key, value FROM outbox WHERE sent_at IS NULL
                ORDER BY id LIMIT \(settings.batchSize)
                """, logger: logger)
            var ids: [Int64] = []
            var records: [KafkaRecord] = []
            for try await (id, environmentID, key, value) in rows.decode((Int64, String, String, ByteBuffer).self) {
                ids.append(id)
                records.append(KafkaRecord(
                    topic: topic.name,
                    partition: ConfigRecord.partition(environmentID: environmentID, partitionCount: partitionCount),
                    key: Array(key.utf8), value: Array(value.readableBytesView)))
            }
            guard !records.isEmpty else { break }
            let results = await producer.send(records)
            var sent: [Int64] = []
            var firstError: KafkaError?
            for (id, result) in zip(ids, results) {
                switch result {
                case .success: sent.append(id)
                case .failure(let error): firstError = firstError ?? error
                }
            }
            if !sent.isEmpty {
                // Not worth a disk flush: if the mark is lost in a crash the rows are sent again, and
                // consumers keep the highest version of each item anyway. The changes themselves
                // were committed durably.
                try await store.client.withTransaction(logger: logger) { connection in
                    try await connection.query("SET LOCAL synchronous_commit = off", logger: logger)
                    try await connection.query("UPDATE outbox SET sent_at = now() WHERE id = ANY(\(sent))", logger: logger)
                }
                published.increment(by: Int64(sent.count))
                publishedAny = true
            }
            if let firstError {
                failures.increment()
                try await updatePendingGauge()
                logger.warning("publishing to Kafka failed; will retry",
                    metadata: ["error": "\(firstError)", "pending": "\(records.count - sent.count)"])
                return publishedAny
            }
        }
        if publishedAny { pending.set(Int64(0)) }
        // Sent rows are kept for a while (to inspect recent deliveries); pruned at most once a minute.
        if lastPrune.withLock({ ContinuousClock.now - $0 >= .seconds(60) }) {
            lastPrune.withLock { $0 = .now }
            try await store.client.query(
                "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => \(Double(settings.retention.components.seconds)))",
                logger: logger)
        }
        return publishedAny
    }

    private func updatePendingGauge() async throws {
        let rows = try await store.client.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL", logger: logger)
        for try await count in rows.decode(Int64.self) { pending.set(count) }
    }

    /// Queues the full current state (every environment, flag and segment) for publishing.
    func republish() async throws -> Int {
        try await store.republish()
    }
}

extension ManagementStore {
    /// Queues the full current state for publishing, in one transaction; how a fresh broker is
    /// refilled, and what `management-api republish` does.
    func republish() async throws -> Int {
        try await transaction { connection in
            // The snapshot supersedes whatever is still pending. Marked first: under READ COMMITTED
            // every later statement sees at least the changes behind those rows.
            try await connection.query("UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL", logger: logger)
            var count = 0
            let projects = try await connection.query("SELECT id FROM projects ORDER BY key", logger: logger)
            var projectIDs: [UUID] = []
            for try await id in projects.decode(UUID.self) { projectIDs.append(id) }
            for projectID in projectIDs {
                for environment in try await environmentRows(projectID: projectID, connection: connection) {
                    try await connection.enqueue(environment.configRecord(now: currentMillis()), logger: logger)
                    count += 1
                    let payload = try await payload(environmentID: environment.id, connection: connection)
                    let environmentID = environment.id.uuidString.lowercased()
                    for (key, flag) in payload.flags.sorted(by: { $0.key < $1.key }) {
                        try await connection.enqueue(
                            ConfigRecord(kind: .flag, environmentID: environmentID, key: key, version: flag.version,
                                         data: try JSONParser.parse(flag.jsonBytes)), logger: logger)
                        count += 1
                    }
                    for (key, segment) in payload.segments.sorted(by: { $0.key < $1.key }) {
                        try await connection.enqueue(
                            ConfigRecord(kind: .segment, environmentID: environmentID, key: key, version: segment.version,
                                         data: try JSONParser.parse(segment.jsonBytes)), logger: logger)
                        count += 1
                    }
                    // Deletions too: a consumer that kept its copy across the broker's loss must
                    // still learn that these items are gone.
                    let tombstones = try await connection.query(
                        "SELECT kind, key, version FROM tombstones WHERE environment_id = \(environment.id) ORDER BY kind, key",
                        logger: logger)
                    var deleted: [ConfigRecord] = []
                    for try await (kind, key, version) in tombstones.decode((String, String, Int).self) {
                        guard let kind = ConfigRecord.Kind(rawValue: kind) else { continue }
                        deleted.append(ConfigRecord(kind: kind, environmentID: environmentID, key: key, version: version, data: nil))
                    }
                    for record in deleted { try await connection.enqueue(record, logger: logger) }
                    count += deleted.count
                }
            }
            return count
        }
    }
}
