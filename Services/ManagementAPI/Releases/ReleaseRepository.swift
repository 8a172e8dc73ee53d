import ExperimentStats
import Foundation
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// A flag environment named by its keys, as in the URL `…/projects/{p}/flags/{f}/environments/{e}/…`.
struct FlagEnvironmentKeys: Sendable, Hashable {
    var project: String
    var flag: String
    var environment: String

    /// The audit resource of the flag's targeting in the environment.
    var resource: String { "proj/\(project):env/\(environment):flag/\(flag)" }
}

/// Where releases live. Every mutation is one transaction with its audit entries; targeting changes go through the
/// flag store's own path (version bump, audit, outbox). Refusals are ``RepositoryError``s and ``ValidationError``s.
protocol ReleaseRepository: Sendable {
    func createScheduledChange(_ keys: FlagEnvironmentKeys, draft: ScheduledChangeDraft, actor: Identity) async throws -> JSONValue
    func scheduledChanges(_ keys: FlagEnvironmentKeys) async throws -> [JSONValue]
    func scheduledChange(_ keys: FlagEnvironmentKeys, id: UUID) async throws -> JSONValue
    /// Cancels a pending change (409 once it is applied, failed or cancelled).
    func cancelScheduledChange(_ keys: FlagEnvironmentKeys, id: UUID, actor: Identity) async throws
    /// Starts a rollout (409 while another one runs or is paused, or when the fallthrough is not a single variation).
    func startRollout(_ keys: FlagEnvironmentKeys, draft: RolloutDraft, actor: Identity) async throws -> JSONValue
    /// The latest rollout of the flag environment, whatever its status (404 if there never was one).
    func currentRollout(_ keys: FlagEnvironmentKeys) async throws -> JSONValue
    /// Every rollout, newest first.
    func rollouts(_ keys: FlagEnvironmentKeys) async throws -> [JSONValue]
    func control(_ keys: FlagEnvironmentKeys, command: RolloutStatus.Command, actor: Identity) async throws -> JSONValue
}

/// A rollout row.
struct RolloutRow: Sendable {
    var id: UUID
    var flagID: UUID
    var environmentID: UUID
    var keys: FlagEnvironmentKeys
    var controlVariation: Int
    var variation: Int
    var steps: [RolloutStep]
    var guardRule: RolloutGuard?
    var seed: Int
    var status: RolloutStatus
    /// Index into `steps` of the step being served.
    var step: Int
    var stepStartedAt: String
    var nextStepAt: String?
    var remainingMilliseconds: Int64?
    var decision: JSONValue?
    var endReason: String?
    var experimentID: UUID?
    var createdBy: String
    var startedAt: String
    var endedAt: String?

    /// The percent of the fallthrough that the new variation gets now.
    var percent: Double { status == .rolledBack ? 0 : steps[min(step, steps.count - 1)].percent }

    var resource: String { "\(keys.resource):rollout/\(id.uuidString.lowercased())" }

    /// The API representation (docs/api.md, "Progressive rollouts"); `step` counts from 1.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id.uuidString.lowercased()), "status": .string(status.rawValue), "step": .number(Double(step + 1)),
            "percent": .number(percent), "startedAt": .string(startedAt), "stepStartedAt": .string(stepStartedAt),
            "flagKey": .string(keys.flag), "environmentKey": .string(keys.environment),
            "controlVariation": .number(Double(controlVariation)), "variation": .number(Double(variation)),
            "steps": .array(steps.map { ["percent": .number($0.percent), "holdSeconds": .number($0.holdSeconds)] }),
            "createdBy": .string(createdBy),
        ]
        if let nextStepAt { object["nextStepAt"] = .string(nextStepAt) }
        if let remainingMilliseconds { object["remainingHoldSeconds"] = .number(Double(remainingMilliseconds) / 1000) }
        if let guardRule, let value = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(guardRule)) {
            object["guard"] = value
        }
        if let decision { object["decision"] = decision }
        if let endedAt { object["endedAt"] = .string(endedAt) }
        if let endReason { object["endReason"] = .string(endReason) }
        return .object(object)
    }
}

struct PostgresReleaseRepository: ReleaseRepository {
    let store: ManagementStore

    private var logger: Logger { store.logger }

    // MARK: - Rows

    private static let scheduledColumns = """
        s.id, s.status, \(SQL.timestamp("s.execute_at")), s.patch::text, s.comment, s.created_by, \(SQL.timestamp("s.created_at")),
        \(SQL.timestamp("s.updated_at")), s.outcome::text
        """

    private func scheduledRows(where condition: PostgresQuery, connection: PostgresConnection) async throws -> [JSONValue] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(Self.scheduledColumns) FROM scheduled_changes s WHERE ")
        query.sql += condition.sql
        query.binds = condition.binds
        query.sql += " ORDER BY s.execute_at, s.created_at"
        var result: [JSONValue] = []
        let rows = try await connection.query(query, logger: logger)
        for try await (id, status, executeAt, patch, comment, createdBy, createdAt, updatedAt, outcome)
            in rows.decode((UUID, String, String, String, String?, String, String, String, String?).self)
        {
            result.append([
                "id": .string(id.uuidString.lowercased()), "status": .string(status), "executeAt": .string(executeAt),
                "patch": try JSONParser.parse(patch), "comment": comment.map(JSONValue.string) ?? .null, "createdBy": .string(createdBy),
                "createdAt": .string(createdAt), "updatedAt": .string(updatedAt),
                "outcome": try outcome.map { try JSONParser.parse($0) } ?? .null,
            ])
        }
        return result
    }

    static let rolloutColumns = """
        r.id, r.flag_id, r.environment_id, p.key, f.key, e.key, r.control_variation, r.variation, r.steps::text, r.guard::text,
        r.seed, r.status, r.step, \(SQL.timestamp("r.step_started_at")), \(SQL.timestamp("r.next_step_at")), r.remaining_ms,
        r.decision::text, r.end_reason, r.experiment_id, r.created_by, \(SQL.timestamp("r.started_at")), \(SQL.timestamp("r.ended_at"))
        """

    static let rolloutJoins = """
        FROM release_rollouts r JOIN flags f ON f.id = r.flag_id JOIN projects p ON p.id = f.project_id
        JOIN environments e ON e.id = r.environment_id
        """

    /// Rollouts matching `condition` (on `r`), newest first; `FOR UPDATE OF r` when `lock`.
    func rolloutRows(where condition: PostgresQuery, lock: Bool = false, connection: PostgresConnection) async throws -> [RolloutRow] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(Self.rolloutColumns) \(Self.rolloutJoins) WHERE ")
        query.sql += condition.sql
        query.binds = condition.binds
        query.sql += " ORDER BY r.started_at DESC" + (lock ? " FOR UPDATE OF r" : "")
        var result: [RolloutRow] = []
        let rows = try await connection.query(query, logger: logger)
        for try await (id, flagID, environmentID, project, flag, environment, control, variation, steps, guardText, seed, status, step,
                       stepStartedAt, nextStepAt, remaining, decision, endReason, experimentID, createdBy, startedAt, endedAt)
            in rows.decode((UUID, UUID, UUID, String, String, String, Int, Int, String, String?, Int, String, Int, String, String?, Int64?,
                            String?, String?, UUID?, String, String, String?).self)
        {
            result.append(RolloutRow(
                id: id, flagID: flagID, environmentID: environmentID,
                keys: FlagEnvironmentKeys(project: project, flag: flag, environment: environment), controlVariation: control,
                variation: variation, steps: try JSONDecoder().decode([RolloutStep].self, from: Data(steps.utf8)),
                guardRule: try guardText.map { try JSONDecoder().decode(RolloutGuard.self, from: Data($0.utf8)) }, seed: seed,
                status: RolloutStatus(rawValue: status) ?? .cancelled, step: step, stepStartedAt: stepStartedAt, nextStepAt: nextStepAt,
                remainingMilliseconds: remaining, decision: try decision.map { try JSONParser.parse($0) }, endReason: endReason,
                experimentID: experimentID, createdBy: createdBy, startedAt: startedAt, endedAt: endedAt))
        }
        return result
    }

    /// The ids of a flag and an environment, unlocked; a precise 404 for what is missing.
    private func ids(_ keys: FlagEnvironmentKeys, connection: PostgresConnection) async throws -> (flag: UUID, environment: UUID) {
        let rows = try await connection.query(
            """
            SELECT f.id, e.id FROM flags f JOIN projects p ON p.id = f.project_id JOIN environments e ON e.project_id = p.id
            WHERE p.key = \(keys.project) AND f.key = \(keys.flag) AND e.key = \(keys.environment)
            """, logger: logger)
        for try await (flag, environment) in rows.decode((UUID, UUID).self) { return (flag, environment) }
        _ = try await store.flag(projectKey: keys.project, key: keys.flag, connection: connection)
        _ = try await store.environmentRow(projectKey: keys.project, key: keys.environment, lock: false, connection: connection)
        throw RepositoryError.notFound("flag \"\(keys.flag)\" has no targeting in environment \"\(keys.environment)\"")
    }

    private static func databaseNow(_ connection: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await connection.query("SELECT \(unescaped: SQL.timestamp("clock_timestamp()"))", logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return ""
    }

    // MARK: - Scheduled changes

    func createScheduledChange(_ keys: FlagEnvironmentKeys, draft: ScheduledChangeDraft, actor: Identity) async throws -> JSONValue {
        try await store.transaction { connection in
            let locked = try await store.lockTargeting(
                projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
            // Checked now against today's targeting, and again when it runs.
            _ = try await store.prepareTargetingChange(locked, body: draft.patch, merge: true, connection: connection)
            let pending = try await connection.query(
                """
                SELECT count(*)::int FROM scheduled_changes
                WHERE flag_id = \(locked.flag.id) AND environment_id = \(locked.environmentID) AND status = 'pending'
                """, logger: logger)
            for try await count in pending.decode(Int.self) where count >= ReleaseLimits.maxPendingChanges {
                throw RepositoryError.conflict("this flag environment already has \(count) pending scheduled changes (the limit)")
            }
            let id = UUID()
            try await connection.query(
                """
                INSERT INTO scheduled_changes (id, flag_id, environment_id, execute_at, patch, comment, created_by)
                VALUES (\(id), \(locked.flag.id), \(locked.environmentID), \(draft.executeAt)::timestamptz,
                        \(JSONWriter.string(draft.patch))::jsonb, \(draft.comment), \(actor.actor))
                """, logger: logger)
            guard let created = try await scheduledRows(where: "s.id = \(id)", connection: connection).first else {
                throw RepositoryError.notFound("scheduled change vanished")
            }
            try await connection.audit(
                actor: actor, action: "flag.scheduled-change.create",
                resource: "\(keys.resource):scheduled-change/\(id.uuidString.lowercased())",
                before: nil, after: created, comment: draft.comment, logger: logger)
            return created
        }
    }

    func scheduledChanges(_ keys: FlagEnvironmentKeys) async throws -> [JSONValue] {
        try await store.client.withConnection { connection in
            let (flag, environment) = try await ids(keys, connection: connection)
            return try await scheduledRows(where: "s.flag_id = \(flag) AND s.environment_id = \(environment)", connection: connection)
        }
    }

    func scheduledChange(_ keys: FlagEnvironmentKeys, id: UUID) async throws -> JSONValue {
        try await store.client.withConnection { connection in
            let (flag, environment) = try await ids(keys, connection: connection)
            guard let change = try await scheduledRows(
                where: "s.id = \(id) AND s.flag_id = \(flag) AND s.environment_id = \(environment)", connection: connection).first
            else { throw RepositoryError.notFound("no scheduled change \(id.uuidString.lowercased()) on this flag environment") }
            return change
        }
    }

    func cancelScheduledChange(_ keys: FlagEnvironmentKeys, id: UUID, actor: Identity) async throws {
        try await store.transaction { connection in
            let (flag, environment) = try await ids(keys, connection: connection)
            let rows = try await connection.query(
                """
                SELECT status FROM scheduled_changes WHERE id = \(id) AND flag_id = \(flag) AND environment_id = \(environment)
                FOR UPDATE
                """,
                logger: logger)
            var status: String?
            for try await value in rows.decode(String.self) { status = value }
            guard let status else {
                throw RepositoryError.notFound("no scheduled change \(id.uuidString.lowercased()) on this flag environment")
            }
            guard status == "pending" else { throw RepositoryError.conflict("the scheduled change is \(status), not pending") }
            let before = try await scheduledRows(where: "s.id = \(id)", connection: connection).first
            try await connection.query(
                """
                UPDATE scheduled_changes SET status = 'cancelled', updated_at = clock_timestamp(),
                    outcome = jsonb_build_object('cancelledBy', \(actor.actor)::text,
                                                 'cancelledAt', \(unescaped: SQL.timestamp("clock_timestamp()")))
                WHERE id = \(id)
                """, logger: logger)
            let after = try await scheduledRows(where: "s.id = \(id)", connection: connection).first
            try await connection.audit(
                actor: actor, action: "flag.scheduled-change.cancel",
                resource: "\(keys.resource):scheduled-change/\(id.uuidString.lowercased())",
                before: before, after: after, comment: nil, logger: logger)
        }
    }

    /// What the scheduler did with one due change.
    struct Applied: Sendable {
        /// Seconds between the due time and the commit's clock.
        var lagSeconds: Double
        var applied: Bool
    }

    /// Applies the earliest due pending change, exactly once: the row is taken with `FOR UPDATE SKIP LOCKED` and marked
    /// in the transaction that changes the flag (through the store's own path). A patch that no longer applies marks
    /// the change `failed` with the reason and changes nothing. Nil when nothing is due.
    func applyDueScheduledChange() async throws -> Applied? {
        try await store.transaction { connection in
            let rows = try await connection.query(
                """
                SELECT s.id, p.key, f.key, e.key, s.patch::text, s.comment, s.created_by,
                       extract(epoch FROM clock_timestamp() - s.execute_at)::float8, \(unescaped: SQL.timestamp("s.execute_at"))
                FROM scheduled_changes s JOIN flags f ON f.id = s.flag_id JOIN projects p ON p.id = f.project_id
                JOIN environments e ON e.id = s.environment_id
                WHERE s.status = 'pending' AND s.execute_at <= clock_timestamp()
                ORDER BY s.execute_at LIMIT 1 FOR UPDATE OF s SKIP LOCKED
                """, logger: logger)
            var due: (UUID, FlagEnvironmentKeys, String, String?, String, Double, String)?
            for try await (id, project, flag, environment, patch, comment, author, lag, executeAt)
                in rows.decode((UUID, String, String, String, String, String?, String, Double, String).self)
            {
                due = (id, FlagEnvironmentKeys(project: project, flag: flag, environment: environment), patch, comment, author, lag,
                    executeAt)
            }
            guard let (id, keys, patchText, comment, author, lag, executeAt) = due else { return nil }
            let resource = "\(keys.resource):scheduled-change/\(id.uuidString.lowercased())"
            let before = try await scheduledRows(where: "s.id = \(id)", connection: connection).first
            let change: FlagStoreTargetingChange
            do {
                let patch = try JSONParser.parse(patchText)
                if patch["prerequisites"] != nil {
                    // As the PATCH does: prerequisite cycles depend on the whole environment, so such changes are serialized.
                    let environment = try await store.environmentRow(
                        projectKey: keys.project, key: keys.environment, lock: false, connection: connection)
                    try await connection.lockEnvironment(environment.id, logger: logger)
                }
                let locked = try await store.lockTargeting(
                    projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment, connection: connection)
                change = try await store.prepareTargetingChange(locked, body: patch, merge: true, connection: connection)
            } catch let refusal where APIError(refusal) != nil {
                // The reason is worded as the API would have answered the same patch.
                guard let error = APIError(refusal) else { throw refusal }
                let details = error.details.map { ($0.path.map { "\($0): " } ?? "") + $0.message }
                let reason = ([error.message] + details).joined(separator: "; ")
                try await connection.query(
                    """
                    UPDATE scheduled_changes SET status = 'failed', updated_at = clock_timestamp(),
                        outcome = jsonb_build_object('reason', \(reason)::text, 'failedAt',
                            \(unescaped: SQL.timestamp("clock_timestamp()")))
                    WHERE id = \(id)
                    """, logger: logger)
                let after = try await scheduledRows(where: "s.id = \(id)", connection: connection).first
                try await connection.audit(
                    actorName: ReleaseScheduler.actorName, action: "flag.scheduled-change.fail", resource: resource, before: before,
                    after: after, comment: "scheduled change \(id.uuidString.lowercased()) of \(author) no longer applies: \(reason)",
                    logger: logger)
                return Applied(lagSeconds: lag, applied: false)
            }
            var note = "scheduled change \(id.uuidString.lowercased()) of \(author)"
            if lag > ReleaseLimits.lateAfterSeconds {
                note += ", applied late: due at \(executeAt), " + String(format: "%.1f", lag) + " s late"
            }
            if let comment { note += ": \(comment)" }
            let targeting = try await store.writeTargetingChange(
                change, projectKey: keys.project, environmentKey: keys.environment, comment: note,
                origin: .scheduledChange(id: id, author: author), connection: connection)
            let late = lag > ReleaseLimits.lateAfterSeconds
            try await connection.query(
                """
                UPDATE scheduled_changes SET status = 'applied', updated_at = clock_timestamp(),
                    outcome = jsonb_build_object('appliedAt', \(unescaped: SQL.timestamp("clock_timestamp()")),
                        'version', \(targeting.version)::int, 'lateSeconds', \(lag)::float8, 'late', \(late)::boolean)
                WHERE id = \(id)
                """, logger: logger)
            return Applied(lagSeconds: lag, applied: true)
        }
    }

    /// The earliest due time of pending work (scheduled changes and rollout steps), in seconds from now; nil if none.
    func secondsUntilNextDue() async throws -> Double? {
        let rows = try await store.client.query(
            """
            SELECT extract(epoch FROM least(
                (SELECT min(execute_at) FROM scheduled_changes WHERE status = 'pending'),
                (SELECT min(next_step_at) FROM release_rollouts WHERE status = 'running')) - clock_timestamp())::float8
            """, logger: logger)
        for try await seconds in rows.decode(Double?.self) { return seconds }
        return nil
    }
}

typealias FlagStoreTargetingChange = ManagementStore.TargetingChange
