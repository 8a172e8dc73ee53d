import ExperimentStats
import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

// Progressive rollouts in PostgreSQL. Lock order, everywhere: the flag's targeting row first (lockTargeting, as a PATCH
// of the targeting does), then the rollout row. A manual PATCH that cancels a rollout therefore never deadlocks with the
// scheduler or a pause.
extension PostgresReleaseRepository {
    private var log: Logger { store.logger }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    private func active(_ locked: ManagementStore.LockedTargeting, connection: PostgresConnection) async throws -> RolloutRow? {
        try await rolloutRows(
            where: "r.flag_id = \(locked.flag.id) AND r.environment_id = \(locked.environmentID) AND r.status IN ('running', 'paused')",
            lock: true, connection: connection
        ).first
    }

    /// Sets the fallthrough through the flag store's path (version bump, audit entry with `comment`, outbox).
    private func setFallthrough(
        _ choice: VariationOrRollout, locked: ManagementStore.LockedTargeting, keys: FlagEnvironmentKeys, comment: String, actor: String,
        connection: PostgresConnection
    ) async throws {
        let change = try await store.prepareTargetingChange(locked, body: RolloutPlan.patch(choice), merge: true, connection: connection)
        _ = try await store.writeTargetingChange(
            change, projectKey: keys.project, environmentKey: keys.environment, comment: comment, origin: .rollout(actor: actor),
            connection: connection)
    }

    private func reread(_ id: UUID, connection: PostgresConnection) async throws -> RolloutRow {
        guard let row = try await rolloutRows(where: "r.id = \(id)", connection: connection).first else {
            throw RepositoryError.notFound("the rollout vanished")
        }
        return row
    }

    private static func describe(step index: Int, of row: RolloutRow) -> String {
        let percent = row.steps[index].percent
        let text = percent == percent.rounded() ? String(Int(percent)) : String(percent)
        return "step \(index + 1)/\(row.steps.count): \(text) % of the fallthrough "
            + "to variation \(row.variation) (control \(row.controlVariation))"
    }

    // MARK: - API

    func startRollout(_ keys: FlagEnvironmentKeys, draft: RolloutDraft, actor: Identity) async throws -> JSONValue {
        try await store.transaction { connection in
            let locked = try await store.lockTargeting(
                projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
            if let running = try await active(locked, connection: connection) {
                throw RepositoryError.conflict(
                    "rollout \(running.id.uuidString.lowercased()) is \(running.status.rawValue) on this flag environment; "
                        + "roll it back or wait for it to end")
            }
            let current = try FeatureFlag(json: locked.json)
            guard let control = current.fallthrough?.variation, current.fallthrough?.rollout == nil else {
                throw RepositoryError.conflict(
                    "the fallthrough is already a percentage rollout; set it to one variation (the control) before starting a rollout")
            }
            let count = locked.flag.settings.variations.count
            var problems = Problems()
            if draft.variation >= count { problems.add("variation", "the flag has \(count) variations (0...\(count - 1))") }
            if draft.variation == control { problems.add("variation", "the fallthrough already serves variation \(control)") }
            try problems.check()

            let id = UUID()
            let seed = Int(Int32.random(in: 1...Int32.max))
            var experimentID: UUID?
            if let rule = draft.guard {
                // The guard's window: an internal experiment with one iteration, so that events-processor keeps the first
                // exposures of the rollout's contexts like those of any experiment (docs/releases.md, "Guarded rollouts").
                let experiment = UUID()
                experimentID = experiment
                let metric = ExperimentMetric(key: rule.metric, type: rule.type, higherIsBetter: rule.higherIsBetter)
                try await connection.query(
                    """
                    INSERT INTO experiments (id, project_id, key, name, description, flag_key, environment_id, control_variation,
                        variation_count, metrics, internal)
                    VALUES (\(experiment), (SELECT project_id FROM flags WHERE id = \(locked.flag.id)),
                        \("~rollout-" + id.uuidString.lowercased()),
                        \("guard of rollout " + id.uuidString.lowercased()), '', \(keys.flag), \(locked.environmentID), \(control),
                        \(count),
                        \(try Self.json([metric]))::jsonb, true)
                    """, logger: log)
                try await connection.query(
                    """
                    INSERT INTO experiment_iterations (experiment_id, number, started_at)
                    VALUES (\(experiment), 1, date_trunc('milliseconds', clock_timestamp()))
                    """, logger: log)
            }
            let first = draft.steps[0]
            do {
                try await connection.query(
                    """
                    INSERT INTO release_rollouts (id, flag_id, environment_id, control_variation, variation, steps, guard, seed, status,
                        step,
                        step_started_at, next_step_at, experiment_id, created_by, started_at)
                    VALUES (\(id), \(locked.flag.id), \(locked.environmentID), \(control), \(draft.variation),
                        \(try Self.json(draft.steps))::jsonb,
                        \(try draft.guard.map { try Self.json($0) })::jsonb, \(seed), 'running', 0, clock_timestamp(),
                        clock_timestamp() + make_interval(secs => \(first.holdSeconds)), \(experimentID), \(actor.actor), clock_timestamp())
                    """, logger: log)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw RepositoryError.conflict("another rollout is running on this flag environment")
            }
            var row = try await reread(id, connection: connection)
            try await setFallthrough(
                RolloutPlan.choice(
                    control: control, variation: draft.variation, percent: first.percent, seed: seed, experiment: draft.guard != nil),
                locked: locked, keys: keys, comment: "rollout \(id.uuidString.lowercased()) started, \(Self.describe(step: 0, of: row))",
                actor: actor.actor, connection: connection)
            if draft.steps.count == 1 {
                // A single 100 % step: the new variation at once, and the rollout is complete.
                try await connection.query(
                    "UPDATE release_rollouts SET status = 'completed', next_step_at = NULL, ended_at = clock_timestamp() WHERE id = \(id)",
                    logger: log)
                if let experimentID { try await ReleaseHooks.closeGuardWindow(experimentID: experimentID, connection: connection,
                    logger: log) }
                row = try await reread(id, connection: connection)
            }
            try await connection.audit(
                actor: actor, action: "release.rollout.start", resource: row.resource, before: nil, after: row.json, comment: nil,
                logger: log)
            return row.json
        }
    }

    func currentRollout(_ keys: FlagEnvironmentKeys) async throws -> JSONValue {
        guard let latest = try await rollouts(keys).first else {
            throw RepositoryError.notFound("flag \"\(keys.flag)\" has never had a rollout in environment \"\(keys.environment)\"")
        }
        return latest
    }

    func rollouts(_ keys: FlagEnvironmentKeys) async throws -> [JSONValue] {
        try await store.client.withConnection { connection in
            let resolved = try await flagEnvironmentIDs(keys, connection: connection)
            return try await rolloutRows(
                where: "r.flag_id = \(resolved.flag) AND r.environment_id = \(resolved.environment)", connection: connection
            ).map(\.json)
        }
    }

    private func flagEnvironmentIDs(_ keys: FlagEnvironmentKeys, connection: PostgresConnection) async throws -> (flag: UUID,
        environment: UUID) {
        let locked = try await connection.query(
            """
            SELECT f.id, e.id FROM flags f JOIN projects p ON p.id = f.project_id JOIN environments e ON e.project_id = p.id
            WHERE p.key = \(keys.project) AND f.key = \(keys.flag) AND e.key = \(keys.environment)
            """, logger: log)
        for try await ids in locked.decode((UUID, UUID).self) { return (ids.0, ids.1) }
        _ = try await store.flag(projectKey: keys.project, key: keys.flag, connection: connection)
        _ = try await store.environmentRow(projectKey: keys.project, key: keys.environment, lock: false, connection: connection)
        throw RepositoryError.notFound("flag \"\(keys.flag)\" has no targeting in environment \"\(keys.environment)\"")
    }

    func control(_ keys: FlagEnvironmentKeys, command: RolloutStatus.Command, actor: Identity) async throws -> JSONValue {
        try await store.transaction { connection in
            let locked = try await store.lockTargeting(
                projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
            guard let row = try await active(locked, connection: connection) else {
                let latest = try await rolloutRows(
                    where: "r.flag_id = \(locked.flag.id) AND r.environment_id = \(locked.environmentID)", connection: connection
                ).first
                guard let latest else {
                    throw RepositoryError.notFound("flag \"\(keys.flag)\" has never had a rollout in environment \"\(keys.environment)\"")
                }
                _ = try latest.status.applying(command)  // throws the 409 naming the status
                throw RepositoryError.conflict("the rollout is \(latest.status.rawValue)")
            }
            _ = try row.status.applying(command)
            switch command {
            case .pause:
                try await connection.query(
                    """
                    UPDATE release_rollouts SET status = 'paused',
                        remaining_ms = greatest(0,
                            (extract(epoch FROM next_step_at - clock_timestamp()) * 1000)::bigint), next_step_at = NULL
                    WHERE id = \(row.id)
                    """, logger: log)
            case .resume:
                try await connection.query(
                    """
                    UPDATE release_rollouts SET status = 'running',
                        next_step_at = clock_timestamp() + make_interval(secs => coalesce(remaining_ms, 0) / 1000.0), remaining_ms = NULL
                    WHERE id = \(row.id)
                    """, logger: log)
            case .rollback:
                let decision: JSONValue = ["action": "rollback", "automatic": false, "reason": .string("rolled back by \(actor.actor)")]
                try await rollBack(
                    row, locked: locked, decision: decision, actor: actor.actor,
                    comment: "rollout \(row.id.uuidString.lowercased()) rolled back by \(actor.actor)", connection: connection)
                return try await reread(row.id, connection: connection).json
            }
            let after = try await reread(row.id, connection: connection)
            try await connection.audit(
                actor: actor, action: "release.rollout.\(command.rawValue)", resource: row.resource, before: row.json, after: after.json,
                comment: nil, logger: log)
            return after.json
        }
    }

    /// The fallthrough back to the control alone, status `rolled_back` with `decision`, the guard's window closed, and
    /// an audit entry for the rollout (besides the targeting change's own).
    private func rollBack(
        _ row: RolloutRow, locked: ManagementStore.LockedTargeting, decision: JSONValue, actor: String, comment: String,
        connection: PostgresConnection
    ) async throws {
        try await setFallthrough(
            VariationOrRollout(variation: row.controlVariation), locked: locked, keys: row.keys, comment: comment, actor: actor,
            connection: connection)
        try await connection.query(
            """
            UPDATE release_rollouts SET status = 'rolled_back', next_step_at = NULL, remaining_ms = NULL, ended_at = clock_timestamp(),
                decision = \(JSONWriter.string(decision))::jsonb, end_reason = \(comment)
            WHERE id = \(row.id)
            """, logger: log)
        if let experimentID = row.experimentID {
            try await ReleaseHooks.closeGuardWindow(experimentID: experimentID, connection: connection, logger: log)
        }
        let after = try await reread(row.id, connection: connection)
        try await connection.audit(
            actorName: actor, action: "release.rollout.rollback", resource: row.resource, before: row.json, after: after.json,
            comment: comment, logger: log)
    }

    // MARK: - Scheduler

    /// Applies the next step of every running rollout whose hold has ended; each step exactly once (the rollout row is
    /// re-read under its lock, after the targeting row, and must still be due). Returns the lag of each applied step.
    func advanceDueRollouts() async throws -> [Double] {
        var due: [(UUID, FlagEnvironmentKeys)] = []
        let rows = try await store.client.query(
            """
            SELECT r.id, p.key, f.key, e.key \(unescaped: Self.rolloutJoins)
            WHERE r.status = 'running' AND r.next_step_at <= clock_timestamp() ORDER BY r.next_step_at LIMIT 50
            """, logger: log)
        for try await (id, project, flag, environment) in rows.decode((UUID, String, String, String).self) {
            due.append((id, FlagEnvironmentKeys(project: project, flag: flag, environment: environment)))
        }
        var lags: [Double] = []
        for (id, keys) in due {
            if let lag = try await advance(id, keys: keys) { lags.append(lag) }
        }
        return lags
    }

    private func advance(_ id: UUID, keys: FlagEnvironmentKeys) async throws -> Double? {
        try await store.transaction { connection -> Double? in
            let locked = try await store.lockTargeting(
                projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
            let lagRows = try await connection.query(
                """
                SELECT extract(epoch FROM clock_timestamp() - next_step_at)::float8 FROM release_rollouts
                WHERE id = \(id) AND status = 'running' AND next_step_at <= clock_timestamp() FOR UPDATE
                """, logger: log)
            var lag: Double?
            for try await value in lagRows.decode(Double.self) { lag = value }
            guard let lag, let row = try await rolloutRows(where: "r.id = \(id)", connection: connection).first else { return nil }
            let next = row.step + 1
            guard next < row.steps.count else { return nil }
            let isLast = next == row.steps.count - 1
            var comment = "rollout \(id.uuidString.lowercased()) \(Self.describe(step: next, of: row))"
            if isLast { comment += "; rollout completed" }
            if lag > ReleaseLimits.lateAfterSeconds { comment += "; applied late: " + String(format: "%.1f", lag) + " s after its time" }
            try await setFallthrough(
                RolloutPlan.choice(
                    control: row.controlVariation, variation: row.variation, percent: row.steps[next].percent, seed: row.seed,
                    experiment: row.guardRule != nil),
                locked: locked, keys: keys, comment: comment, actor: ReleaseScheduler.actorName, connection: connection)
            // On time, the next hold starts from this step's due time (no drift); late (every replica was down), from now,
            // so that each percent is held in full.
            try await connection.query(
                """
                UPDATE release_rollouts SET step = \(next),
                    step_started_at = clock_timestamp(),
                    next_step_at = CASE WHEN \(isLast) THEN NULL ELSE
                        (CASE WHEN \(lag) <= \(ReleaseLimits.lateAfterSeconds) THEN next_step_at ELSE clock_timestamp() END)
                        + make_interval(secs => \(row.steps[next].holdSeconds)) END,
                    status = CASE WHEN \(isLast) THEN 'completed' ELSE 'running' END,
                    ended_at = CASE WHEN \(isLast) THEN clock_timestamp() END
                WHERE id = \(id)
                """, logger: log)
            if isLast {
                if let experimentID = row.experimentID {
                    try await ReleaseHooks.closeGuardWindow(experimentID: experimentID, connection: connection, logger: log)
                }
                let after = try await reread(id, connection: connection)
                try await connection.audit(
                    actorName: ReleaseScheduler.actorName, action: "release.rollout.complete", resource: row.resource, before: row.json,
                    after: after.json, comment: comment, logger: log)
            }
            return lag
        }
    }

    /// A guarded rollout and the start of its guard's window (Unix milliseconds).
    struct Guarded: Sendable {
        var row: RolloutRow
        var windowStart: Int64
    }

    func guardedRollouts() async throws -> [Guarded] {
        try await store.client.withConnection { connection in
            let rows = try await rolloutRows(
                where: "r.status IN ('running', 'paused') AND r.guard IS NOT NULL AND r.experiment_id IS NOT NULL", connection: connection)
            var result: [Guarded] = []
            for row in rows {
                guard let experimentID = row.experimentID else { continue }
                let starts = try await connection.query(
                    """
                    SELECT (extract(epoch FROM started_at) * 1000)::bigint FROM experiment_iterations
                    WHERE experiment_id = \(experimentID) AND number = 1
                    """, logger: log)
                for try await start in starts.decode(Int64.self) { result.append(Guarded(row: row, windowStart: start)) }
            }
            return result
        }
    }

    /// Reads the two arms of a guarded rollout from events-processor's state (the experiments' per-context values, in
    /// one read-only snapshot) and decides; a rollback is applied at once. Returns the evaluation.
    func evaluateGuard(_ guarded: Guarded) async throws -> GuardEvaluation? {
        let row = guarded.row
        guard let rule = row.guardRule else { return nil }
        let (observations, now) = try await store.transaction { connection -> (ExperimentObservations, String) in
            try await connection.query("SET TRANSACTION READ ONLY", logger: log)
            try await connection.query("SET LOCAL jit = off", logger: log)
            let observations = try await PostgresExperimentRepository.observations(
                environmentID: row.environmentID.uuidString.lowercased(), flagKey: row.keys.flag, metrics: [rule.metric],
                start: guarded.windowStart, stop: .max, connection: connection, logger: log)
            let rows = try await connection.query("SELECT \(unescaped: SQL.timestamp("clock_timestamp()"))", logger: log)
            var now = ""
            for try await text in rows.decode(String.self) { now = text }
            return (observations, now)
        }
        func statistics(_ variation: Int) -> SufficientStatistics {
            let n = Double(observations.exposed[variation] ?? 0)
            let sums = observations.metrics[rule.metric]?[variation] ?? ExperimentObservations.Sums()
            switch rule.type {
            case .proportion: return .proportion(n: n, converted: Double(sums.contexts))
            case .mean: return SufficientStatistics(n: n, sum: sums.sum, sumSquares: sums.sumSquares)
            }
        }
        var evaluation = GuardEvaluation.evaluate(
            guard: rule, control: statistics(row.controlVariation), controlVariation: row.controlVariation,
            treatment: statistics(row.variation), variation: row.variation)
        evaluation.evaluatedAt = now
        let decision = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(evaluation))
        if evaluation.action == .rollback {
            try await store.transaction { connection in
                let locked = try await store.lockTargeting(
                    projectKey: row.keys.project, flagKey: row.keys.flag, environmentKey: row.keys.environment, connection: connection)
                guard let current = try await rolloutRows(
                    where: "r.id = \(row.id) AND r.status IN ('running', 'paused')", lock: true, connection: connection
                ).first else { return }
                try await rollBack(
                    current, locked: locked, decision: decision, actor: ReleaseScheduler.actorName,
                    comment: "rollout \(row.id.uuidString.lowercased()) rolled back automatically by its guard: \(evaluation.reason)",
                    connection: connection)
            }
        } else {
            // One statement on the rollout row alone: no targeting lock is needed to record the latest look.
            try await store.client.query(
                """
                UPDATE release_rollouts SET decision = \(JSONWriter.string(decision))::jsonb
                WHERE id = \(row.id) AND status IN ('running', 'paused')
                """, logger: log)
        }
        return evaluation
    }
}
