import ExperimentStats
import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// Experiments in the management database, results from events-processor's correlation state in the `analytics`
/// schema of the same database (docs/experiments.md, "How results are computed").
struct PostgresExperimentRepository: ExperimentRepository {
    let store: ManagementStore

    private var logger: Logger { store.logger }

    /// An experiment row with what the API does not show.
    private struct Row: Sendable {
        var id: UUID
        var environmentID: UUID
        var variationCount: Int
        var experiment: Experiment
    }

    private static let columns = """
        x.id, x.environment_id, x.variation_count, x.key, x.name, x.description, x.flag_key, e.key, x.control_variation,
        x.metrics::text, x.traffic_weights::text, \(SQL.timestamp("x.created_at")), \(SQL.timestamp("x.updated_at")),
        i.number, \(SQL.timestamp("i.started_at")), \(SQL.timestamp("i.stopped_at"))
        """

    private func rows(projectKey: String, key: String?, lock: Bool, connection: PostgresConnection) async throws -> [Row] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: Self.columns)
            FROM experiments x JOIN projects p ON p.id = x.project_id JOIN environments e ON e.id = x.environment_id
            LEFT JOIN LATERAL (
                SELECT number, started_at, stopped_at FROM experiment_iterations WHERE experiment_id = x.id
                ORDER BY number DESC LIMIT 1) i ON true
            WHERE p.key = \(projectKey) AND (\(key)::text IS NULL OR x.key = \(key ?? "")) AND NOT x.internal
            ORDER BY x.key \(unescaped: lock ? "FOR UPDATE OF x" : "")
            """, logger: logger)
        var result: [Row] = []
        for try await (id, environmentID, variationCount, key, name, description, flagKey, environmentKey, control, metricsText,
                       weightsText, created, updated, number, started, stopped)
            in rows.decode((UUID, UUID, Int, String, String, String, String, String, Int, String, String?, String, String, Int?,
                            String?, String?).self)
        {
            let metrics = try JSONDecoder().decode([ExperimentMetric].self, from: Data(metricsText.utf8))
            let weights = try weightsText.map { try JSONDecoder().decode([Double].self, from: Data($0.utf8)) }
            var iteration: ExperimentIteration?
            if let number, let started { iteration = ExperimentIteration(number: number, start: started, stop: stopped) }
            let status: Experiment.Status = iteration == nil ? .draft : (iteration?.stop == nil ? .running : .stopped)
            result.append(Row(
                id: id, environmentID: environmentID, variationCount: variationCount,
                experiment: Experiment(
                    key: key, name: name, description: description, flagKey: flagKey, environmentKey: environmentKey,
                    controlVariation: control, metrics: metrics, trafficWeights: weights, status: status, iteration: iteration,
                    createdAt: created, updatedAt: updated)))
        }
        return result
    }

    private func row(projectKey: String, key: String, lock: Bool, connection: PostgresConnection) async throws -> Row {
        if let row = try await rows(projectKey: projectKey, key: key, lock: lock, connection: connection).first { return row }
        _ = try await projectID(projectKey, lock: false, connection: connection)  // a precise 404 for a missing project
        throw RepositoryError.notFound("experiment \"\(key)\" does not exist in project \"\(projectKey)\"")
    }

    private func projectID(_ key: String, lock: Bool, connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query(
            "SELECT id FROM projects WHERE key = \(key) \(unescaped: lock ? "FOR SHARE" : "")", logger: logger)
        for try await id in rows.decode(UUID.self) { return id }
        throw RepositoryError.notFound("project \"\(key)\" does not exist")
    }

    /// The number of variations of a flag, nil if it does not exist. Share-locked when asked, so that the
    /// variations cannot change under a validation.
    private func variationCount(projectID: UUID, flagKey: String, lock: Bool, connection: PostgresConnection) async throws -> Int? {
        let rows = try await connection.query(
            """
            SELECT jsonb_array_length(settings->'variations') FROM flags WHERE project_id = \(projectID) AND key = \(flagKey)
            \(unescaped: lock ? "FOR SHARE" : "")
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return nil
    }

    private func variationCount(of row: Row, projectKey: String, connection: PostgresConnection) async throws -> Int {
        let projectID = try await projectID(projectKey, lock: false, connection: connection)
        return try await variationCount(projectID: projectID, flagKey: row.experiment.flagKey, lock: false, connection: connection)
            ?? row.variationCount
    }

    private static func json<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    private static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    // MARK: - CRUD

    func create(projectKey: String, draft: ExperimentDraft, actor: Identity) async throws -> Experiment {
        try await store.transaction { connection in
            let projectID = try await projectID(projectKey, lock: true, connection: connection)
            let count = try await variationCount(projectID: projectID, flagKey: draft.flagKey, lock: true, connection: connection)
            var environmentID: UUID?
            let environments = try await connection.query(
                "SELECT id FROM environments WHERE project_id = \(projectID) AND key = \(draft.environmentKey)", logger: logger)
            for try await id in environments.decode(UUID.self) { environmentID = id }
            try draft.validate(variationCount: count, environmentExists: environmentID != nil)
            guard let environmentID, let count else { throw ValidationError(path: "flagKey", "the flag or the environment vanished") }
            do {
                try await connection.query(
                    """
                    INSERT INTO experiments (id, project_id, key, name, description, flag_key, environment_id, control_variation,
                        variation_count, metrics, traffic_weights)
                    VALUES (\(UUID()), \(projectID), \(draft.key), \(draft.name), \(draft.description), \(draft.flagKey), \(environmentID),
                        \(draft.controlVariation), \(count), \(try Self.text(draft.metrics))::jsonb,
                        \(try draft.trafficWeights.map(Self.text))::jsonb)
                    """, logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw RepositoryError.conflict("experiment \"\(draft.key)\" already exists in project \"\(projectKey)\"")
            }
            let created = try await row(projectKey: projectKey, key: draft.key, lock: false, connection: connection).experiment
            try await connection.audit(
                actor: actor, action: "experiment.create", resource: Experiment.resource(projectKey: projectKey, key: draft.key),
                before: nil, after: try Self.json(created), comment: nil, logger: logger)
            return created
        }
    }

    func list(projectKey: String) async throws -> [Experiment] {
        try await store.client.withConnection { connection in
            _ = try await projectID(projectKey, lock: false, connection: connection)
            return try await rows(projectKey: projectKey, key: nil, lock: false, connection: connection).map(\.experiment)
        }
    }

    func experiment(projectKey: String, key: String) async throws -> Experiment {
        try await store.client.withConnection { connection in
            try await row(projectKey: projectKey, key: key, lock: false, connection: connection).experiment
        }
    }

    func update(projectKey: String, key: String, patch: ExperimentPatch, actor: Identity) async throws -> Experiment {
        try await store.transaction { connection in
            let before = try await row(projectKey: projectKey, key: key, lock: true, connection: connection)
            if patch.changesAnalysis, before.experiment.status == .running {
                throw RepositoryError.conflict(
                    "experiment \"\(key)\" is running: stop it before changing its metrics or traffic weights (POST …/stop)")
            }
            if case .some(.some(let weights)) = patch.trafficWeights {
                let count = try await variationCount(of: before, projectKey: projectKey, connection: connection)
                var problems = Problems()
                ExperimentFields.check(
                    control: before.experiment.controlVariation, weights: weights, variationCount: count, into: &problems)
                try problems.check()
            }
            var after = before.experiment
            if let name = patch.name { after.name = name }
            if let description = patch.description { after.description = description }
            if let metrics = patch.metrics { after.metrics = metrics }
            if let weights = patch.trafficWeights { after.trafficWeights = weights }
            try await connection.query(
                """
                UPDATE experiments SET name = \(after.name), description = \(after.description),
                    metrics = \(try Self.text(after.metrics))::jsonb, traffic_weights = \(try after.trafficWeights.map(Self.text))::jsonb,
                    updated_at = now()
                WHERE id = \(before.id)
                """, logger: logger)
            let updated = try await row(projectKey: projectKey, key: key, lock: false, connection: connection).experiment
            try await connection.audit(
                actor: actor, action: "experiment.update", resource: Experiment.resource(projectKey: projectKey, key: key),
                before: try Self.json(before.experiment), after: try Self.json(updated), comment: nil, logger: logger)
            return updated
        }
    }

    func delete(projectKey: String, key: String, actor: Identity) async throws {
        try await store.transaction { connection in
            let before = try await row(projectKey: projectKey, key: key, lock: true, connection: connection)
            try await connection.query("DELETE FROM experiments WHERE id = \(before.id)", logger: logger)
            try await connection.audit(
                actor: actor, action: "experiment.delete", resource: Experiment.resource(projectKey: projectKey, key: key),
                before: try Self.json(before.experiment), after: nil, comment: nil, logger: logger)
        }
    }

    // MARK: - Iterations

    func start(projectKey: String, key: String, actor: Identity) async throws -> ExperimentIteration {
        try await store.transaction { connection in
            let before = try await row(projectKey: projectKey, key: key, lock: true, connection: connection)
            if before.experiment.status == .running {
                let iteration = before.experiment.iteration?.number ?? 0
                throw RepositoryError.conflict("experiment \"\(key)\" is already running (iteration \(iteration))")
            }
            let projectID = try await projectID(projectKey, lock: false, connection: connection)
            let count = try await variationCount(
                projectID: projectID, flagKey: before.experiment.flagKey, lock: true, connection: connection)
            guard count != nil else {
                throw RepositoryError.conflict("flag \"\(before.experiment.flagKey)\" no longer exists; the experiment cannot start")
            }
            // Whole milliseconds (exposure times are), and never before the previous stop: iterations do not overlap.
            try await connection.query(
                """
                INSERT INTO experiment_iterations (experiment_id, number, started_at)
                SELECT \(before.id), coalesce(max(number), 0) + 1,
                       greatest(date_trunc('milliseconds', clock_timestamp()), max(stopped_at))
                FROM experiment_iterations WHERE experiment_id = \(before.id)
                """, logger: logger)
            let after = try await row(projectKey: projectKey, key: key, lock: false, connection: connection).experiment
            guard let iteration = after.iteration else { throw RepositoryError.notFound("experiment \"\(key)\" vanished") }
            try await connection.audit(
                actor: actor, action: "experiment.start", resource: Experiment.resource(projectKey: projectKey, key: key),
                before: try Self.json(before.experiment), after: try Self.json(after), comment: nil, logger: logger)
            return iteration
        }
    }

    func stop(projectKey: String, key: String, actor: Identity) async throws -> ExperimentIteration {
        try await store.transaction { connection in
            let before = try await row(projectKey: projectKey, key: key, lock: true, connection: connection)
            guard before.experiment.status == .running, let running = before.experiment.iteration else {
                throw RepositoryError.conflict("experiment \"\(key)\" is not running")
            }
            try await connection.query(
                """
                UPDATE experiment_iterations SET stopped_at = greatest(started_at, date_trunc('milliseconds', clock_timestamp()))
                WHERE experiment_id = \(before.id) AND number = \(running.number)
                """, logger: logger)
            let after = try await row(projectKey: projectKey, key: key, lock: false, connection: connection).experiment
            guard let iteration = after.iteration else { throw RepositoryError.notFound("experiment \"\(key)\" vanished") }
            try await connection.audit(
                actor: actor, action: "experiment.stop", resource: Experiment.resource(projectKey: projectKey, key: key),
                before: try Self.json(before.experiment), after: try Self.json(after), comment: nil, logger: logger)
            return iteration
        }
    }

    func iterations(projectKey: String, key: String) async throws -> [ExperimentIteration] {
        try await store.client.withConnection { connection in
            let experiment = try await row(projectKey: projectKey, key: key, lock: false, connection: connection)
            return try await iterationRows(experimentID: experiment.id, number: nil, connection: connection).map(\.iteration)
        }
    }

    private struct IterationRow {
        var iteration: ExperimentIteration
        var startMilliseconds: Int64
        var stopMilliseconds: Int64?
    }

    private func iterationRows(experimentID: UUID, number: Int?, connection: PostgresConnection) async throws -> [IterationRow] {
        let rows = try await connection.query(
            """
            SELECT number, \(unescaped: SQL.timestamp("started_at")), \(unescaped: SQL.timestamp("stopped_at")),
                   (extract(epoch FROM started_at) * 1000)::bigint, (extract(epoch FROM stopped_at) * 1000)::bigint
            FROM experiment_iterations WHERE experiment_id = \(experimentID) AND (\(number)::integer IS NULL OR number = \(number ?? 0))
            ORDER BY number
            """, logger: logger)
        var result: [IterationRow] = []
        for try await (number, start, stop, startMilliseconds, stopMilliseconds)
            in rows.decode((Int, String, String?, Int64, Int64?).self)
        {
            result.append(IterationRow(
                iteration: ExperimentIteration(number: number, start: start, stop: stop), startMilliseconds: startMilliseconds,
                stopMilliseconds: stopMilliseconds))
        }
        return result
    }

    // MARK: - Results

    func observations(projectKey: String, key: String, iteration number: Int?) async throws -> ExperimentSnapshot {
        try await store.transaction { connection in
            // One large analytical statement: sorts and hashes in memory, and no JIT compilation (it costs more
            // than it saves on a query planned afresh each time).
            try await connection.query("SET TRANSACTION READ ONLY", logger: logger)
            try await connection.query("SET LOCAL work_mem = '64MB'", logger: logger)
            try await connection.query("SET LOCAL jit = off", logger: logger)
            let row = try await row(projectKey: projectKey, key: key, lock: false, connection: connection)
            let iterations = try await iterationRows(experimentID: row.id, number: number, connection: connection)
            guard let iteration = iterations.last else {
                if let number { throw RepositoryError.notFound("experiment \"\(key)\" has no iteration \(number)") }
                throw RepositoryError.notFound("experiment \"\(key)\" has not been started (POST …/experiments/\(key)/start)")
            }
            let count = try await variationCount(of: row, projectKey: projectKey, connection: connection)
            let observations = try await Self.observations(
                environmentID: row.environmentID.uuidString.lowercased(), flagKey: row.experiment.flagKey,
                metrics: row.experiment.metrics.map(\.key), start: iteration.startMilliseconds,
                stop: iteration.stopMilliseconds ?? .max, connection: connection, logger: logger)
            var updatedAt = ""
            let now = try await connection.query("SELECT \(unescaped: SQL.timestamp("clock_timestamp()"))", logger: logger)
            for try await text in now.decode(String.self) { updatedAt = text }
            return ExperimentSnapshot(
                experiment: row.experiment, iteration: iteration.iteration, variationCount: count, observations: observations,
                updatedAt: updatedAt)
        }
    }

    /// The per-variation sums of one iteration, in one statement (one snapshot), set-based: nothing per context is
    /// loaded into memory.
    ///
    /// events-processor keeps, per experiment iteration (by its start), each context's first exposure to the flag
    /// with `start <= exposed_at < stop` (ties: the smaller variation index) in `analytics.iteration_exposures`, as
    /// soon as the exposure is counted; and the goal events per context, metric and creation time, both pending
    /// (within the correlation delay) and final, each event in exactly one of them. Those rows are the
    /// iteration's contexts and variations. A context's value for a metric sums the goal rows with
    /// `exposed_at <= occurred_at < stop`.
    static func observations(
        environmentID: String, flagKey: String, metrics: [String], start: Int64, stop: Int64, connection: PostgresConnection,
        logger: Logger
    ) async throws -> ExperimentObservations {
        var observations = ExperimentObservations()
        // Before events-processor first ran, the schema does not exist: nobody has been exposed yet.
        let tables = try await connection.query(
            """
            SELECT to_regclass('analytics.iteration_exposures') IS NOT NULL AND to_regclass('analytics.goals') IS NOT NULL,
                   to_regclass('analytics.pending_goals') IS NOT NULL
            """, logger: logger)
        var pendingGoalsApart = false
        for try await (exists, split) in tables.decode((Bool, Bool).self) {
            guard exists else { return observations }
            pendingGoalsApart = split
        }
        // Since analytics migration 4 the pending goals are in a table of their own (events-processor appends them
        // there and moves them into `analytics.goals` when it correlates them, in one transaction): read both, each
        // joined on its own so that the final rows are still read through their primary key. Before it, pending goals
        // are rows of `analytics.goals` too. The parameters are numbered by hand: the statement has two shapes.
        var pending = ""
        if pendingGoalsApart {
            pending = """
                UNION ALL
                SELECT x.context_kind, x.context_key, x.variation, g.metric_key, g.value_sum
                FROM exposed x JOIN analytics.pending_goals g
                  ON g.environment_id = $1 AND g.context_kind = x.context_kind AND g.context_key = x.context_key
                 AND g.metric_key = ANY($5) AND g.occurred_at >= x.exposed_at AND g.occurred_at < $4
                """
        }
        var binds = PostgresBindings()
        binds.append(environmentID)
        binds.append(flagKey)
        binds.append(start)
        binds.append(stop)
        binds.append(metrics)
        let query = PostgresQuery(
            unsafeSQL: """
                WITH exposed AS (
                    SELECT context_kind, context_key, exposed_at, variation
                    FROM analytics.iteration_exposures
                    WHERE environment_id = $1 AND flag_key = $2 AND iteration_start = $3 AND exposed_at < $4 AND variation >= 0),
                matched AS (
                    SELECT x.context_kind, x.context_key, x.variation, g.metric_key, g.value_sum
                    FROM exposed x JOIN analytics.goals g
                      ON g.environment_id = $1 AND g.context_kind = x.context_kind AND g.context_key = x.context_key
                     AND g.metric_key = ANY($5) AND g.occurred_at >= x.exposed_at AND g.occurred_at < $4
                    \(pending)),
                valued AS (
                    SELECT variation, metric_key, sum(value_sum) AS value FROM matched
                    GROUP BY context_kind, context_key, variation, metric_key)
                SELECT variation, NULL::text, count(*)::bigint, 0::float8, 0::float8 FROM exposed GROUP BY variation
                UNION ALL
                SELECT variation, metric_key, count(*)::bigint, sum(value)::float8, sum(value * value)::float8
                FROM valued GROUP BY variation, metric_key
                """, binds: binds)
        let rows = try await connection.query(query, logger: logger)
        for try await (variation, metric, contexts, sum, sumSquares) in rows.decode((Int, String?, Int64, Double, Double).self) {
            if let metric {
                observations.metrics[metric, default: [:]][variation] = ExperimentObservations.Sums(
                    contexts: contexts, sum: sum, sumSquares: sumSquares)
            } else {
                observations.exposed[variation] = contexts
            }
        }
        return observations
    }
}
