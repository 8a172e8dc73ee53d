import Foundation
import Logging
import PostgresNIO
import PostgresSupport
import Testing
import TestSupport

@testable import EventsProcessor

/// The finalized-contexts filter against PostgreSQL, with the store in this process so that a round can be raced.
@Suite("Finalized contexts against PostgreSQL")
struct FinalizedContextsRaceTests {
    @Test("a write of final rows by someone who takes no correlation lock, committed during a round, drops the filter")
    func foreignWriteDuringARound() async throws {
        let databaseURL = try await PostgresServer.start().createDatabase(prefix: "filter")
        let settings = try DatabaseSettings(url: databaseURL)
        let logger = TestLogger.make("filter-race")
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: 4), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await AnalyticsMigrations.apply(client: client, logger: logger)
            let store = AnalyticsStore(
                client: client, topic: "t", delay: 0, retention: 3_600_000, logger: logger,
                finalization: FinalizationConnection(database: settings, logger: logger))
            #expect(store.finalized.claimBuild(now: .now))
            store.finalized.finishBuild(try await store.buildFinalizedContexts())

            // A pending exposure for the round to take.
            try await client.query(
                """
                INSERT INTO analytics.pending_exposures
                    (environment_id, context_kind, context_key, flag_key, received_hour, exposed_at, variation, due_at)
                VALUES ('env', 'user', 'taken', 'f', date_trunc('hour', now()), 1, 0, now() - interval '1 second')
                """, logger: logger)
            // Someone else writes a final row, without the correlation lock, and has not committed yet: the trigger has
            // raised the counter and holds its row.
            let foreign = try await PostgresConnection.connect(
                configuration: settings.connectionConfiguration(connectTimeout: .seconds(10)), id: 1, logger: logger)
            try await foreign.query("BEGIN", logger: logger)
            try await foreign.query(
                """
                INSERT INTO analytics.exposures (environment_id, context_kind, context_key, flag_key, received_hour, is_final,
                    exposed_at, variation, due_at)
                VALUES ('env', 'user', 'written-elsewhere', 'f', date_trunc('hour', now()), true, 1, 0, now())
                """, logger: logger)

            let round = Task { try await store.finalizeDue(now: Int64(Date().timeIntervalSince1970 * 1000) + 1000, contextLimit: 100) }
            // The round waits on the counter's row (or, unguarded, on the counter once its own inserts raise it).
            let deadline = ContinuousClock.now + .seconds(20)
            while try await waitingOnLocks(client, logger) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await waitingOnLocks(client, logger) == 1)
            try await foreign.query("COMMIT", logger: logger)
            try await foreign.close()
            #expect(try await round.value.contexts == 1)

            // The filter must not claim that the foreign context has no final rows: either it was dropped, or it knows.
            let generation = try await client.query("SELECT generation FROM analytics.final_rows_generation", logger: logger)
            var current: Int64 = -1
            for try await value in generation.decode(Int64.self) { current = value }
            let answer = store.finalized.mayHaveFinalRows(
                [ContextFilter.hash(environmentID: "env", kind: "user", key: "written-elsewhere")], at: current)
            #expect(answer == nil || answer == [true], "the filter at generation \(current) lacks the foreign context")
            await store.close()
        }
    }

    /// Backends of this database waiting for a lock.
    private func waitingOnLocks(_ client: PostgresClient, _ logger: Logger) async throws -> Int {
        let rows = try await client.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            logger: logger)
        var count = 0
        for try await value in rows.decode(Int64.self) { count = Int(value) }
        return count
    }
}
