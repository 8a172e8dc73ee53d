import Logging
import PostgresNIO

/// The `analytics` schema, as an ordered list of migrations applied under an advisory lock (its own
/// `analytics.schema_migrations` table, so it never collides with management-api's migrations in
/// the same database).
enum AnalyticsMigrations {
    /// One migration: statements run in order in one transaction (PostgreSQL's extended protocol
    /// takes one statement per query).
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    /// Any constant shared by every replica; pg_advisory_xact_lock serializes them on it.
    static let lockID: Int64 = 0x7661_6E65_616E_6C79  // "vaneanly"

    static let all: [Migration] = [
        Migration(version: 1, name: "analytics schema", statements: [
            // Where each partition of the events topic was processed up to, committed in the same
            // transaction as the aggregates. `epoch` changes when a replay rewinds the topic;
            // `replay_until`/`replay_received_from` tell which re-read records were already counted.
            """
            CREATE TABLE analytics.consumer_offsets (
                topic text NOT NULL,
                partition integer NOT NULL,
                next_offset bigint NOT NULL,
                epoch bigint NOT NULL DEFAULT 0,
                replay_until bigint,
                replay_received_from timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (topic, partition)
            )
            """,
            // Batches already counted, by (environment, payload id): SDK retries re-send a batch
            // with the same id.
            """
            CREATE TABLE analytics.processed_payloads (
                environment_id text NOT NULL,
                payload_id text NOT NULL,
                received_at timestamptz NOT NULL,
                PRIMARY KEY (environment_id, payload_id)
            )
            """,
            "CREATE INDEX processed_payloads_received_at ON analytics.processed_payloads (received_at)",
            // Public: evaluations per environment × flag × variation × hour.
            """
            CREATE TABLE analytics.evaluations_hourly (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                variation integer NOT NULL,
                hour timestamptz NOT NULL,
                evaluations bigint NOT NULL,
                PRIMARY KEY (environment_id, flag_key, variation, hour)
            )
            """,
            // The same counts split by the hour the batches were received, kept for the replay
            // window so that a replay can subtract exactly what it re-reads.
            """
            CREATE TABLE analytics.evaluations_by_receipt (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                variation integer NOT NULL,
                hour timestamptz NOT NULL,
                received_hour timestamptz NOT NULL,
                evaluations bigint NOT NULL,
                last_evaluated_at timestamptz NOT NULL,
                PRIMARY KEY (environment_id, flag_key, variation, hour, received_hour)
            )
            """,
            "CREATE INDEX evaluations_by_receipt_received ON analytics.evaluations_by_receipt (received_hour)",
            // Public: when each flag was last evaluated (stale-flag detection).
            """
            CREATE TABLE analytics.flag_last_evaluated (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                last_evaluated_at timestamptz NOT NULL,
                PRIMARY KEY (environment_id, flag_key)
            )
            """,
            // Exposure state: per context and flag, the earliest exposure seen in each receipt
            // hour. Rows are pending (held for the correlation delay) until finalized.
            """
            CREATE TABLE analytics.exposures (
                environment_id text NOT NULL,
                context_kind text NOT NULL,
                context_key text NOT NULL,
                flag_key text NOT NULL,
                received_hour timestamptz NOT NULL,
                is_final boolean NOT NULL,
                exposed_at bigint NOT NULL,
                variation integer NOT NULL,
                due_at timestamptz NOT NULL,
                PRIMARY KEY (environment_id, context_kind, context_key, flag_key, received_hour, is_final)
            )
            """,
            "CREATE INDEX exposures_pending ON analytics.exposures (due_at) WHERE NOT is_final",
            // Goal state: custom events per context, metric and creation time.
            """
            CREATE TABLE analytics.goals (
                environment_id text NOT NULL,
                context_kind text NOT NULL,
                context_key text NOT NULL,
                metric_key text NOT NULL,
                occurred_at bigint NOT NULL,
                received_hour timestamptz NOT NULL,
                is_final boolean NOT NULL,
                events bigint NOT NULL,
                value_sum numeric NOT NULL,
                value_sum_squares numeric NOT NULL,
                due_at timestamptz NOT NULL,
                PRIMARY KEY (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final)
            )
            """,
            "CREATE INDEX goals_pending ON analytics.goals (due_at) WHERE NOT is_final",
            // Public: exposed contexts per environment × flag × variation.
            """
            CREATE TABLE analytics.experiment_exposures (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                variation integer NOT NULL,
                exposed_contexts bigint NOT NULL,
                PRIMARY KEY (environment_id, flag_key, variation)
            )
            """,
            // Public: per environment × flag × variation × metric.
            """
            CREATE TABLE analytics.experiment_metrics (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                variation integer NOT NULL,
                metric_key text NOT NULL,
                observed_contexts bigint NOT NULL,
                converted_contexts bigint NOT NULL,
                conversion_events bigint NOT NULL,
                value_sum numeric NOT NULL,
                value_sum_squares numeric NOT NULL,
                PRIMARY KEY (environment_id, flag_key, variation, metric_key)
            )
            """,
            // How far pruning has gone: a replay cannot start before this (the raw state it would
            // need is gone).
            """
            CREATE TABLE analytics.retention_state (
                id integer PRIMARY KEY CHECK (id = 1),
                pruned_before timestamptz NOT NULL
            )
            """,
            """
            CREATE VIEW analytics.experiment_results AS
            SELECT e.environment_id, e.flag_key, e.variation, m.metric_key, e.exposed_contexts,
                   coalesce(x.converted_contexts, 0) AS converted_contexts,
                   coalesce(x.conversion_events, 0) AS conversion_events,
                   coalesce(x.value_sum, 0) AS value_sum,
                   coalesce(x.value_sum_squares, 0) AS value_sum_squares,
                   coalesce(x.converted_contexts, 0)::double precision / e.exposed_contexts AS conversion_rate
            FROM analytics.experiment_exposures e
            JOIN (SELECT DISTINCT environment_id, flag_key, metric_key FROM analytics.experiment_metrics) m
              ON m.environment_id = e.environment_id AND m.flag_key = e.flag_key
            LEFT JOIN analytics.experiment_metrics x
              ON x.environment_id = e.environment_id AND x.flag_key = e.flag_key
             AND x.variation = e.variation AND x.metric_key = m.metric_key
            WHERE e.exposed_contexts > 0
            """,
        ]),
        // management-api's experiment results read one flag's exposures in a time window, each context's earliest
        // first (docs/experiments.md): in this order, from the index alone, without sorting millions of rows.
        Migration(version: 2, name: "exposures by flag and context", statements: [
            """
            CREATE INDEX exposures_flag_context ON analytics.exposures
                (environment_id, flag_key, context_kind, context_key, exposed_at, variation)
            """,
        ]),
        // Per experiment iteration (management-api's experiment_iterations, by its start in Unix milliseconds), each
        // context's first exposure to the flag in [start, stop): who counts and with which variation, kept exactly
        // whatever the receipt hours and never pruned (IterationExposures). The primary key is the order the results
        // read it in. Iterations that ran before this table existed are filled from the exposures kept so far.
        Migration(version: 3, name: "iteration exposures", statements: [
            """
            CREATE TABLE analytics.iteration_exposures (
                environment_id text NOT NULL,
                flag_key text NOT NULL,
                iteration_start bigint NOT NULL,
                context_kind text NOT NULL,
                context_key text NOT NULL,
                exposed_at bigint NOT NULL,
                variation integer NOT NULL,
                PRIMARY KEY (environment_id, flag_key, iteration_start, context_kind, context_key)
            )
            """,
            """
            DO $$
            BEGIN
                IF to_regclass('experiments') IS NOT NULL AND to_regclass('experiment_iterations') IS NOT NULL THEN
                    INSERT INTO analytics.iteration_exposures
                        (environment_id, flag_key, iteration_start, context_kind, context_key, exposed_at, variation)
                    SELECT DISTINCT ON (w.e, w.f, w.s, x.context_kind, x.context_key)
                           w.e, w.f, w.s, x.context_kind, x.context_key, x.exposed_at, x.variation
                    FROM (SELECT DISTINCT e.environment_id::text AS e, e.flag_key AS f,
                                 (extract(epoch FROM i.started_at) * 1000)::bigint AS s,
                                 (extract(epoch FROM i.stopped_at) * 1000)::bigint AS p
                          FROM experiments e JOIN experiment_iterations i ON i.experiment_id = e.id) w
                    JOIN analytics.exposures x ON x.environment_id = w.e AND x.flag_key = w.f
                     AND x.exposed_at >= w.s AND (w.p IS NULL OR x.exposed_at < w.p)
                    ORDER BY w.e, w.f, w.s, x.context_kind, x.context_key, x.exposed_at, x.variation;
                END IF;
            END
            $$
            """,
            // The results no longer read exposures by flag: the index only cost writes.
            "DROP INDEX analytics.exposures_flag_context",
        ]),
        // Pending rows apart from the final ones (docs/performance.md, events-processor, third round). A chunk commit
        // appends its pending rows with a plain INSERT: no key, so no conflict check and no waiting for the rows a
        // correlation round is finalizing; finalization deletes the due rows it takes (RETURNING them) and merges them
        // into `exposures`/`goals`, which from here on hold final rows only (`is_final` stays, always true, for the
        // readers and the primary key). The due index is all a pending row needs: finalization takes rows by due
        // time, and nothing looks a pending row up by its key. Pending rows written so far move over.
        Migration(version: 4, name: "pending rows apart", statements: [
            """
            CREATE TABLE analytics.pending_exposures (
                environment_id text NOT NULL,
                context_kind text NOT NULL,
                context_key text NOT NULL,
                flag_key text NOT NULL,
                received_hour timestamptz NOT NULL,
                exposed_at bigint NOT NULL,
                variation integer NOT NULL,
                due_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX pending_exposures_due ON analytics.pending_exposures (due_at)",
            """
            CREATE TABLE analytics.pending_goals (
                environment_id text NOT NULL,
                context_kind text NOT NULL,
                context_key text NOT NULL,
                metric_key text NOT NULL,
                occurred_at bigint NOT NULL,
                received_hour timestamptz NOT NULL,
                events bigint NOT NULL,
                value_sum numeric NOT NULL,
                value_sum_squares numeric NOT NULL,
                due_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX pending_goals_due ON analytics.pending_goals (due_at)",
            """
            WITH moved AS (DELETE FROM analytics.exposures WHERE NOT is_final RETURNING *)
            INSERT INTO analytics.pending_exposures
                (environment_id, context_kind, context_key, flag_key, received_hour, exposed_at, variation, due_at)
            SELECT environment_id, context_kind, context_key, flag_key, received_hour, exposed_at, variation, due_at FROM moved
            """,
            """
            WITH moved AS (DELETE FROM analytics.goals WHERE NOT is_final RETURNING *)
            INSERT INTO analytics.pending_goals (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour,
                events, value_sum, value_sum_squares, due_at)
            SELECT environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, events, value_sum,
                   value_sum_squares, due_at FROM moved
            """,
            "DROP INDEX analytics.exposures_pending",
            "DROP INDEX analytics.goals_pending",
            // A processor of an older version still running during an upgrade would go on writing pending rows here,
            // which nothing correlates any more. With these checks its chunk commit fails and rolls back instead
            // (offsets included), and the records are committed by the processors of this version.
            "ALTER TABLE analytics.exposures ADD CONSTRAINT exposures_final_only CHECK (is_final)",
            "ALTER TABLE analytics.goals ADD CONSTRAINT goals_final_only CHECK (is_final)",
        ]),
        // Finalization keeps, in each processor's memory, a filter of the contexts that have final rows, and probes
        // only those (EventsProcessor's `FinalizedContexts`). This counter tells it whether anything changed the final
        // rows since it last looked: every statement that inserts or updates final rows raises it, whoever runs it.
        Migration(version: 5, name: "final rows generation", statements: [
            "CREATE TABLE analytics.final_rows_generation (generation bigint NOT NULL)",
            "INSERT INTO analytics.final_rows_generation VALUES (0)",
            // One row only: a second would make the counter ambiguous.
            "CREATE UNIQUE INDEX final_rows_generation_one_row ON analytics.final_rows_generation ((true))",
            """
            CREATE FUNCTION analytics.raise_final_rows_generation() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE analytics.final_rows_generation SET generation = generation + 1;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER exposures_final_rows_generation AFTER INSERT OR UPDATE ON analytics.exposures
            FOR EACH STATEMENT EXECUTE FUNCTION analytics.raise_final_rows_generation()
            """,
            """
            CREATE TRIGGER goals_final_rows_generation AFTER INSERT OR UPDATE ON analytics.goals
            FOR EACH STATEMENT EXECUTE FUNCTION analytics.raise_final_rows_generation()
            """,
        ]),
    ]

    /// Applies every migration not applied yet; safe to run concurrently from several processes.
    static func apply(client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockID))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS analytics", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS analytics.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: Set<Int> = []
            let rows = try await connection.query("SELECT version FROM analytics.schema_migrations", logger: logger)
            for try await version in rows.decode(Int.self) { applied.insert(version) }
            for migration in all where !applied.contains(migration.version) {
                logger.info("applying analytics migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO analytics.schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
            }
        }
    }
}
