import Foundation
import KafkaKit
import Logging
import PostgresNIO
import TestSupport

/// A private database and development broker, an events producer, and a way to run
/// events-processor subprocesses against them and read what they wrote.
struct ProcessorHarness: Sendable {
    let databaseURL: String
    let kafka: DevKafka
    let topic = "vane.events.raw"
    let group = "processor-test-\(UUID().uuidString.prefix(8))"
    let producer: KafkaProducer
    let postgres: PostgresClient
    let logger: Logger

    /// Runs `body` with a fresh database, broker (a 4-partition events topic) and producer.
    static func with(_ body: (ProcessorHarness) async throws -> Void) async throws {
        let databaseURL = try await PostgresServer.start().createDatabase(prefix: "processor")
        let logger = TestLogger.make("processor-tests")
        try await DevKafka.with(brokers: 1, topics: ["vane.events.raw:4"]) { kafka in
            let producer = try KafkaProducer(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: logger)
            let url = URLComponents(string: databaseURL)!
            let postgres = PostgresClient(
                configuration: .init(host: url.host!, port: url.port!, username: url.user!, password: nil,
                                     database: String(url.path.dropFirst()), tls: .disable),
                backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await postgres.run() }
                defer { group.cancelAll() }
                try await body(ProcessorHarness(databaseURL: databaseURL, kafka: kafka, producer: producer,
                    postgres: postgres, logger: logger))
            }
        }
    }

    var environment: [String: String] {
        [
            "VANE_DATABASE_URL": databaseURL, "VANE_KAFKA_BROKERS": kafka.bootstrapServers, "VANE_EVENTS_TOPIC": topic,
            "VANE_CONSUMER_GROUP": group, "VANE_KAFKA_SESSION_TIMEOUT_SECONDS": "6", "VANE_CHUNK_MAX_RECORDS": "40",
            "VANE_CHUNK_MAX_AGE_SECONDS": "0.2", "VANE_FINALIZE_INTERVAL_SECONDS": "0.3", "VANE_LOG_LEVEL": "info",
        ]
    }

    /// Starts an events-processor and waits until it is ready.
    func startProcessor(delaySeconds: Double, settings: [String: String] = [:]) async throws -> ServiceProcess {
        var variables = environment
        variables["VANE_CORRELATION_DELAY_SECONDS"] = "\(delaySeconds)"
        variables.merge(settings) { _, new in new }
        let process = try ServiceProcess("events-processor", environment: variables)
        try await process.waitUntilReady()
        return process
    }

    /// Runs `events-processor replay --from <time>` to completion.
    func replay(from time: String, settings: [String: String] = [:]) async throws -> ChildProcess.Result {
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        variables.merge(settings) { _, new in new }
        variables["VANE_CORRELATION_DELAY_SECONDS"] = "1"
        return try await ChildProcess.run(RepositoryPaths.executable("events-processor"),
            ["replay", "--from", time], environment: variables)
    }

    /// Sends batches as events-ingest would (keyed by environment id, received now unless given).
    func send(_ batches: [GeneratedBatch], receivedAt: Int64? = nil) async throws {
        let receivedAt = receivedAt ?? Int64(Date().timeIntervalSince1970 * 1000)
        let records = batches.map {
            KafkaRecord(topic: topic, key: Array($0.environmentID.utf8), value: $0.value(receivedAt: receivedAt))
        }
        for result in await producer.send(records) { _ = try result.get() }
    }

    /// Sends raw record values for one environment.
    func sendRaw(environmentID: String, _ values: [[UInt8]]) async throws {
        let records = values.map { KafkaRecord(topic: topic, key: Array(environmentID.utf8), value: $0) }
        for result in await producer.send(records) { _ = try result.get() }
    }

    /// The analytics tables, shaped like ``ExpectedTables``.
    func tables() async throws -> ExpectedTables {
        var tables = ExpectedTables()
        let exposures = try await postgres.query(
            "SELECT environment_id, flag_key, variation, exposed_contexts FROM analytics.experiment_exposures", logger: logger)
        for try await (env, flag, variation, exposed) in exposures.decode((String, String, Int32, Int64).self) {
            tables.exposures["\(env)|\(flag)|\(variation)"] = exposed
        }
        let results = try await postgres.query(
            """
            SELECT environment_id, flag_key, variation, metric_key, exposed_contexts, converted_contexts, conversion_events,
                   value_sum::text, value_sum_squares::text FROM analytics.experiment_results
            """, logger: logger)
        for try await (env, flag, variation, metric, exposed, converted, events, sum, squares)
            in results.decode((String, String, Int32, String, Int64, Int64, Int64, String, String).self)
        {
            tables.results["\(env)|\(flag)|\(variation)|\(metric)"] = ExpectedTables.ResultRow(
                exposed: exposed, converted: converted, events: events, valueSum: Decimal(string: sum)!,
                valueSquares: Decimal(string: squares)!)
        }
        let evaluations = try await postgres.query(
            """
            SELECT environment_id, flag_key, variation, (extract(epoch FROM hour) * 1000)::bigint, evaluations
            FROM analytics.evaluations_hourly
            """, logger: logger)
        for try await (env, flag, variation, hour, count) in evaluations.decode((String, String, Int32, Int64, Int64).self) {
            tables.evaluations["\(env)|\(flag)|\(variation)|\(hour)"] = count
        }
        let last = try await postgres.query(
            "SELECT environment_id, flag_key, (extract(epoch FROM last_evaluated_at) * 1000)::bigint FROM analytics.flag_last_evaluated",
            logger: logger)
        for try await (env, flag, at) in last.decode((String, String, Int64).self) {
            tables.lastEvaluated["\(env)|\(flag)"] = at
        }
        return tables
    }

    /// Polls the tables until they equal `expected` or `timeout` passes; returns the last read.
    func waitForTables(_ expected: ExpectedTables, timeout: Duration = .seconds(60)) async throws -> ExpectedTables {
        let deadline = ContinuousClock.now + timeout
        var current = try await tables()
        while current != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(300))
            current = try await tables()
        }
        return current
    }

    /// The number of rows a query's first column counts.
    func count(_ query: PostgresQuery) async throws -> Int64 {
        var total: Int64 = 0
        for try await value in try await postgres.query(query, logger: logger).decode(Int64.self) { total = value }
        return total
    }

    /// Total records committed (sum of the stored next offsets).
    func committedRecords() async throws -> Int64 {
        let rows = try await postgres.query(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM analytics.consumer_offsets WHERE topic = \(topic)", logger: logger)
        var total: Int64 = 0
        for try await value in rows.decode(Int64.self) { total = value }
        return total
    }
}
