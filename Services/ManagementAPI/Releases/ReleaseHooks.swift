import Foundation
import Logging
import ModelsCore
import PostgresNIO

/// Who changes a flag's targeting, for its audit entry and for the rollout it may cancel.
enum TargetingChangeOrigin: Sendable {
    /// A request of the API.
    case api(Identity)
    /// A scheduled change, applied by the release scheduler.
    case scheduledChange(id: UUID, author: String)
    /// A rollout's own step, completion or rollback; `actor` is the scheduler or the person who asked.
    case rollout(actor: String)

    /// The audit entry's actor.
    var actorName: String {
        switch self {
        case .api(let identity): identity.actor
        case .scheduledChange: ReleaseScheduler.actorName
        case .rollout(let actor): actor
        }
    }

    /// Whether a change of the fallthrough or on/off state cancels the environment's running rollout: every change
    /// that a rollout did not make itself.
    var cancelsRollouts: Bool {
        if case .rollout = self { return false }
        return true
    }

    var cancellationReason: String {
        switch self {
        case .api(let identity): "the fallthrough or on/off state was changed by \(identity.actor)"
        case .scheduledChange(let id, let author):
            "the fallthrough or on/off state was changed by scheduled change \(id.uuidString.lowercased()) of \(author)"
        case .rollout: "the rollout changed"
        }
    }
}

/// What the flag store calls into releases, inside its transaction.
enum ReleaseHooks {
    /// Cancels the running or paused rollout of a flag environment, if any (its targeting row is already locked by the
    /// caller, which is the lock order of every rollout change): status `cancelled`, its guard's iteration closed, and
    /// an audit entry. Returns the rollout's id.
    static func cancelRollouts(
        flagID: UUID, environmentID: UUID, resource: String, actor: String, reason: String, connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID? {
        let rows = try await connection.query(
            """
            UPDATE release_rollouts SET status = 'cancelled', next_step_at = NULL, remaining_ms = NULL,
                   ended_at = clock_timestamp(), end_reason = \(reason)
            WHERE flag_id = \(flagID) AND environment_id = \(environmentID) AND status IN ('running', 'paused')
            RETURNING id, experiment_id
            """, logger: logger)
        var cancelled: (UUID, UUID?)?
        for try await row in rows.decode((UUID, UUID?).self) { cancelled = row }
        guard let (id, experimentID) = cancelled else { return nil }
        if let experimentID { try await closeGuardWindow(experimentID: experimentID, connection: connection, logger: logger) }
        try await connection.audit(
            actorName: actor, action: "release.rollout.cancel", resource: "\(resource):rollout/\(id.uuidString.lowercased())",
            before: ["status": "running"], after: ["status": "cancelled"], comment: "rollout cancelled: \(reason)", logger: logger)
        return id
    }

    /// Ends the window of a guarded rollout's internal experiment iteration (its exposures stop counting).
    static func closeGuardWindow(experimentID: UUID, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE experiment_iterations SET stopped_at = greatest(started_at, date_trunc('milliseconds', clock_timestamp()))
            WHERE experiment_id = \(experimentID) AND stopped_at IS NULL
            """, logger: logger)
    }
}
