import Logging
import PostgresNIO

/// Maintains `analytics.iteration_exposures`: for each experiment iteration, each context's first exposure to the
/// experiment's flag with `start <= exposed_at < stop` (docs/experiments.md, "Who counts").
///
/// The iterations are management-api's `experiments` and `experiment_iterations` tables in the same database (a
/// processor running without management-api has none: nothing to do). Rows only ever move to an earlier
/// `(exposed_at, variation)`, so writing the same exposures again (redeliveries, SDK retries that slipped past
/// deduplication, replays) changes nothing, and the writes ride in the transaction that counts the exposures.
enum IterationExposures {
    /// An iteration's window on one flag of one environment.
    struct Window: Sendable {
        var start: UnixMilliseconds
        /// `nil` while the iteration runs.
        var stop: UnixMilliseconds?

        func contains(_ instant: UnixMilliseconds) -> Bool {
            instant >= start && (stop.map { instant < $0 } ?? true)
        }
    }

    struct Key: Hashable, Sendable, Comparable {
        var environmentID: String
        var flagKey: String
        var start: UnixMilliseconds
        var kind: String
        var key: String

        static func < (a: Key, b: Key) -> Bool {
            (a.environmentID, a.flagKey, a.start, a.kind, a.key) < (b.environmentID, b.flagKey, b.start, b.kind, b.key)
        }
    }

    /// Each iteration's first exposure among `instants` (per context and flag: exposure instant → smallest
    /// variation at that instant). Pure, for tests.
    static func firstExposures(
        _ instants: [ExposureCell: [UnixMilliseconds: Int]], windows: [FlagIdentity: [Window]]
    ) -> [Key: Exposure] {
        var result: [Key: Exposure] = [:]
        for (cell, byInstant) in instants {
            let flag = FlagIdentity(environmentID: cell.context.environmentID, flagKey: cell.flagKey)
            guard let flagWindows = windows[flag] else { continue }
            for window in flagWindows {
                var first: Exposure?
                for (instant, variation) in byInstant where window.contains(instant) {
                    first = Exposure.earliest(first, Exposure(exposedAt: instant, variation: variation))
                }
                guard let first else { continue }
                let key = Key(
                    environmentID: flag.environmentID, flagKey: flag.flagKey, start: window.start, kind: cell.context.context.kind,
                    key: cell.context.context.key)
                result[key, default: first].keepEarliest(first)
            }
        }
        return result
    }

    /// Upserts the iterations' first exposures among `instants`, on the caller's transaction.
    static func record(
        _ instants: [ExposureCell: [UnixMilliseconds: Int]], on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !instants.isEmpty else { return }
        let present = try await connection.query(
            "SELECT to_regclass('experiments') IS NOT NULL AND to_regclass('experiment_iterations') IS NOT NULL", logger: logger)
        for try await exists in present.decode(Bool.self) where !exists { return }
        let flags = Set(instants.keys.map { FlagIdentity(environmentID: $0.context.environmentID, flagKey: $0.flagKey) })
            .sorted { ($0.environmentID, $0.flagKey) < ($1.environmentID, $1.flagKey) }
        // Experiments are few: their windows for this chunk's flags are a handful of rows.
        let rows = try await connection.query(
            """
            SELECT DISTINCT t.e, t.f, (extract(epoch FROM i.started_at) * 1000)::bigint, (extract(epoch FROM i.stopped_at) * 1000)::bigint
            FROM unnest(\(flags.map(\.environmentID)), \(flags.map(\.flagKey))) AS t(e, f)
            JOIN experiments x ON x.environment_id::text = t.e AND x.flag_key = t.f
            JOIN experiment_iterations i ON i.experiment_id = x.id
            """, logger: logger)
        var windows: [FlagIdentity: [Window]] = [:]
        for try await (environmentID, flagKey, start, stop) in rows.decode((String, String, Int64, Int64?).self) {
            windows[FlagIdentity(environmentID: environmentID, flagKey: flagKey), default: []].append(Window(start: start, stop: stop))
        }
        guard !windows.isEmpty else { return }
        // Sorted by key, as concurrent commits lock the rows in the same order.
        let firsts = firstExposures(instants, windows: windows).sorted { $0.key < $1.key }
        guard !firsts.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO analytics.iteration_exposures AS x
                (environment_id, flag_key, iteration_start, context_kind, context_key, exposed_at, variation)
            SELECT e, f, s, k, c, a, v
            FROM unnest(\(firsts.map(\.key.environmentID)), \(firsts.map(\.key.flagKey)), \(firsts.map(\.key.start)),
                \(firsts.map(\.key.kind)), \(firsts.map(\.key.key)), \(firsts.map(\.value.exposedAt)),
                \(firsts.map { Int32(clamping: $0.value.variation) })) AS t(e, f, s, k, c, a, v)
            ON CONFLICT (environment_id, flag_key, iteration_start, context_kind, context_key) DO UPDATE SET
                exposed_at = CASE WHEN (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
                                  THEN EXCLUDED.exposed_at ELSE x.exposed_at END,
                variation = CASE WHEN (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
                                 THEN EXCLUDED.variation ELSE x.variation END
            WHERE (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
            """, logger: logger)
    }
}
