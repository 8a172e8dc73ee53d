import Foundation
import Logging
import ModelsCore
import NIOCore
import PostgresNIO
import ServiceKit

/// Everything management-api keeps in PostgreSQL. Every mutation is one transaction that writes the
/// new state, bumps versions, appends an audit entry and appends outbox records for the data plane,
/// then notifies the publisher; nothing is published that was not committed.
struct ManagementStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// The LISTEN/NOTIFY channel that wakes the outbox publisher.
    static let outboxChannel = "vane_outbox"

    /// Runs `body` in a transaction.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> sending T) async throws -> sending T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            // Unwrap so that API errors thrown inside the transaction reach the client unchanged.
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }
}

/// Rows as JSON, and SQL fragments shared by the queries.
enum SQL {
    /// An ISO 8601 UTC timestamp in JSON output.
    static func timestamp(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    }
}

// MARK: - Audit and outbox (inside a transaction)

extension PostgresConnection {
    /// Appends an audit entry and, when given, the `vane.config` record of the change, in one
    /// statement (a round trip fewer on the hottest path, the kill switch).
    func audit(
        actor: Identity, action: String, resource: String, before: JSONValue?, after: JSONValue?, comment: String?,
        publishing record: ConfigRecord? = nil, logger: Logger
    ) async throws {
        try await audit(
            actorName: actor.actor, action: action, resource: resource, before: before, after: after, comment: comment,
            publishing: record, logger: logger)
    }

    /// ``audit(actor:action:resource:before:after:comment:publishing:logger:)`` for an actor that is not an API token
    /// (the release scheduler, or the author of a scheduled change).
    func audit(
        actorName actor: String, action: String, resource: String, before: JSONValue?, after: JSONValue?, comment: String?,
        publishing record: ConfigRecord? = nil, logger: Logger
    ) async throws {
        let beforeText = before.map(JSONWriter.string)
        let afterText = after.map(JSONWriter.string)
        if let record, let environmentID = UUID(uuidString: record.environmentID) {
            try await query(
                """
                WITH queued AS (
                    INSERT INTO outbox (environment_id, record_key, value)
                    VALUES (\(environmentID), \(record.recordKey), \(ByteBuffer(bytes: record.jsonBytes)))
                )
                INSERT INTO audit_log (actor, action, resource, before, after, comment)
                VALUES (\(actor), \(action), \(resource), \(beforeText)::jsonb, \(afterText)::jsonb, \(comment))
                """, logger: logger)
        } else {
            try await query(
                """
                INSERT INTO audit_log (actor, action, resource, before, after, comment)
                VALUES (\(actor), \(action), \(resource), \(beforeText)::jsonb, \(afterText)::jsonb, \(comment))
                """, logger: logger)
        }
    }

    /// Appends a `vane.config` record to the outbox; a trigger wakes the publisher at commit.
    func enqueue(_ record: ConfigRecord, logger: Logger) async throws {
        guard let environmentID = UUID(uuidString: record.environmentID) else { return }
        let value = ByteBuffer(bytes: record.jsonBytes)
        try await query(
            "INSERT INTO outbox (environment_id, record_key, value) VALUES (\(environmentID), \(record.recordKey), \(value))",
            logger: logger)
    }

    /// The version a re-created item starts after: the version of its tombstone, if any, so that
    /// consumers never mistake the new item for something older than the deletion.
    func tombstoneVersion(environmentID: UUID, kind: ConfigRecord.Kind, key: String, logger: Logger) async throws -> Int {
        let rows = try await query(
            "DELETE FROM tombstones WHERE environment_id = \(environmentID) AND kind = \(kind.rawValue) AND key = \(key) RETURNING version",
            logger: logger)
        for try await version in rows.decode(Int.self) { return version }
        return 0
    }

    /// Records the version of a deleted item (see ``tombstoneVersion(environmentID:kind:key:logger:)``).
    func recordTombstone(environmentID: UUID, kind: ConfigRecord.Kind, key: String, version: Int, logger: Logger) async throws {
        try await query(
            """
            INSERT INTO tombstones (environment_id, kind, key, version) VALUES (\(environmentID), \(kind.rawValue), \(key), \(version))
            ON CONFLICT (environment_id, kind, key) DO UPDATE SET version = GREATEST(tombstones.version, EXCLUDED.version)
            """, logger: logger)
    }

    /// Serializes, within one environment, the changes whose validity depends on more than the rows
    /// they lock (prerequisite cycles, segment references between segments).
    func lockEnvironment(_ environmentID: UUID, logger: Logger) async throws {
        try await query("SELECT pg_advisory_xact_lock(hashtextextended(\("env:" + environmentID.uuidString), 0))", logger: logger)
    }
}
