import Logging
import PostgresNIO

/// A chunk's contributions merged in memory, then written with one statement per table
/// (arrays bound as parameters and `unnest`ed). Upserted rows are written in ``LockOrder`` so that concurrent
/// writers lock them in the same order; pending exposures and goals are appended, which locks nothing.
struct ChunkAggregate: Sendable {
    struct Receipt<Cell: Hashable & Sendable>: Hashable, Sendable {
        var cell: Cell
        var receivedHour: UnixMilliseconds
    }

    struct Pending<Value: Sendable>: Sendable {
        var value: Value
        var dueAt: UnixMilliseconds

        /// Merges another batch's `value`, due at `dueAt`: a row merging several batches is due with its earliest.
        mutating func merge(_ other: Value, dueAt: UnixMilliseconds, _ combine: (inout Value, Value) -> Void) {
            combine(&value, other)
            self.dueAt = min(self.dueAt, dueAt)
        }
    }

    var evaluations: [Receipt<EvaluationCell>: EvaluationTally] = [:]
    var exposures: [Receipt<ExposureCell>: Pending<Exposure>] = [:]
    var goals: [Receipt<GoalCell>: Pending<GoalTally>] = [:]
    /// Every distinct exposure instant per (context, flag), for `analytics.iteration_exposures`.
    var exposureInstants: [ExposureCell: [UnixMilliseconds: Int]] = [:]

    /// Adds a record's contribution. Events are due for correlation `delay` after the batch was
    /// received; a row merging several batches is due with its earliest one.
    mutating func add(_ contribution: RecordContribution, receivedAt: UnixMilliseconds, delay: UnixMilliseconds) {
        let receivedHour = receivedAt.hourStart
        let dueAt = receivedAt + delay
        for (cell, tally) in contribution.evaluations {
            evaluations[Receipt(cell: cell, receivedHour: receivedHour), default: EvaluationTally(evaluations: 0,
                lastEvaluatedAt: tally.lastEvaluatedAt)]
                .add(tally)
        }
        // One lookup per row (`default:` then changed in place): reading and then writing hashed the keys twice.
        for (cell, exposure) in contribution.exposures {
            exposures[Receipt(cell: cell, receivedHour: receivedHour), default: Pending(value: exposure, dueAt: dueAt)]
                .merge(exposure, dueAt: dueAt) { $0.keepEarliest($1) }
        }
        for (cell, instants) in contribution.exposureInstants {
            exposureInstants[cell, default: [:]].merge(instants) { Swift.min($0, $1) }
        }
        for (cell, tally) in contribution.goals {
            goals[Receipt(cell: cell, receivedHour: receivedHour), default: Pending(value: GoalTally(), dueAt: dueAt)]
                .merge(tally, dueAt: dueAt) { $0 += $1 }
        }
    }

    /// When the earliest pending exposure or goal of the chunk is due (nil: none).
    var earliestDue: UnixMilliseconds? {
        let exposure = exposures.values.lazy.map(\.dueAt).min()
        let goal = goals.values.lazy.map(\.dueAt).min()
        return [exposure, goal].compactMap { $0 }.min()
    }

    /// The rows to write, the upserted ones in ``LockOrder`` (sorting is the costly part: it is done before the chunk's
    /// transaction). Pending exposures and goals are appended without a key, so their order does not matter and they
    /// are not sorted.
    func sorted() -> SortedChunk {
        var hourly: [EvaluationCell: Int64] = [:]
        var latest: [FlagIdentity: UnixMilliseconds] = [:]
        for (receipt, tally) in evaluations {
            hourly[receipt.cell, default: 0] += tally.evaluations
            let flag = FlagIdentity(environmentID: receipt.cell.environmentID, flagKey: receipt.cell.flagKey)
            latest[flag] = max(latest[flag] ?? tally.lastEvaluatedAt, tally.lastEvaluatedAt)
        }
        func flagOrder(_ a: FlagIdentity, _ b: FlagIdentity) -> Bool { (a.environmentID, a.flagKey) < (b.environmentID, b.flagKey) }
        return SortedChunk(
            receipts: evaluations.sorted(lockOrder: {
                LockOrder(LockOrder.hash($0.key.cell.environmentID, $0.key.cell.flagKey), UInt64(bitPattern: Int64($0.key.cell.variation)),
                    $0.key.cell.hour, $0.key.receivedHour)
            }, tieBreak: { flagOrder($0.key.cell.flag, $1.key.cell.flag) }),
            hourly: hourly.sorted(lockOrder: {
                LockOrder(LockOrder.hash($0.key.environmentID, $0.key.flagKey), UInt64(bitPattern: Int64($0.key.variation)), $0.key.hour)
            }, tieBreak: { flagOrder($0.key.flag, $1.key.flag) }),
            latest: latest.sorted(lockOrder: { LockOrder(LockOrder.hash($0.key.environmentID, $0.key.flagKey)) },
                tieBreak: { flagOrder($0.key, $1.key) }),
            exposures: Array(exposures),
            exposureInstants: exposureInstants,
            goals: Array(goals),
            earliestDue: earliestDue)
    }
}

/// A chunk's rows, ready to be written (the upserted ones in ``LockOrder``).
struct SortedChunk: Sendable {
    typealias Receipt = ChunkAggregate.Receipt
    typealias Pending = ChunkAggregate.Pending

    var receipts: [(key: Receipt<EvaluationCell>, value: EvaluationTally)]
    var hourly: [(key: EvaluationCell, value: Int64)]
    var latest: [(key: FlagIdentity, value: UnixMilliseconds)]
    var exposures: [(key: Receipt<ExposureCell>, value: Pending<Exposure>)]
    /// Every distinct exposure instant per (context, flag), for `analytics.iteration_exposures`.
    var exposureInstants: [ExposureCell: [UnixMilliseconds: Int]]
    var goals: [(key: Receipt<GoalCell>, value: Pending<GoalTally>)]
    /// When the earliest pending exposure or goal of the chunk is due (nil: none).
    var earliestDue: UnixMilliseconds?

    func write(on connection: PostgresConnection, logger: Logger) async throws {
        if !receipts.isEmpty { try await writeEvaluations(on: connection, logger: logger) }
        if !exposures.isEmpty { try await writeExposures(on: connection, logger: logger) }
        try await IterationExposures.record(exposureInstants, on: connection, logger: logger)
        if !goals.isEmpty { try await writeGoals(on: connection, logger: logger) }
    }

    private func writeEvaluations(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO analytics.evaluations_by_receipt AS r
                (environment_id, flag_key, variation, hour, received_hour, evaluations, last_evaluated_at)
            SELECT e, f, v, to_timestamp(h / 1000.0), to_timestamp(rh / 1000.0), n, to_timestamp(l / 1000.0)
            FROM unnest(\(receipts.map(\.key.cell.environmentID)), \(receipts.map(\.key.cell.flagKey)),
                \(receipts.map { Int32(clamping: $0.key.cell.variation) }), \(receipts.map(\.key.cell.hour)),
                \(receipts.map(\.key.receivedHour)), \(receipts.map(\.value.evaluations)), \(receipts.map(\.value.lastEvaluatedAt)))
                AS t(e, f, v, h, rh, n, l)
            ON CONFLICT (environment_id, flag_key, variation, hour, received_hour) DO UPDATE SET
                evaluations = r.evaluations + EXCLUDED.evaluations,
                last_evaluated_at = greatest(r.last_evaluated_at, EXCLUDED.last_evaluated_at)
            """, logger: logger)

        try await connection.query(
            """
            INSERT INTO analytics.evaluations_hourly AS x (environment_id, flag_key, variation, hour, evaluations)
            SELECT e, f, v, to_timestamp(h / 1000.0), n
            FROM unnest(\(hourly.map(\.key.environmentID)), \(hourly.map(\.key.flagKey)),
                \(hourly.map { Int32(clamping: $0.key.variation) }), \(hourly.map(\.key.hour)), \(hourly.map(\.value)))
                AS t(e, f, v, h, n)
            ON CONFLICT (environment_id, flag_key, variation, hour) DO UPDATE SET evaluations = x.evaluations + EXCLUDED.evaluations
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO analytics.flag_last_evaluated AS x (environment_id, flag_key, last_evaluated_at)
            SELECT e, f, to_timestamp(l / 1000.0) FROM unnest(\(latest.map(\.key.environmentID)), \(latest.map(\.key.flagKey)),
                \(latest.map(\.value))) AS t(e, f, l)
            ON CONFLICT (environment_id, flag_key) DO UPDATE
            SET last_evaluated_at = greatest(x.last_evaluated_at, EXCLUDED.last_evaluated_at)
            """, logger: logger)
    }

    /// Appends the chunk's pending exposures: no key and no conflict check, so a chunk never waits for a correlation
    /// round (finalization merges rows of the same key).
    private func writeExposures(on connection: PostgresConnection, logger: Logger) async throws {
        let rows = exposures
        try await connection.query(
            """
            INSERT INTO analytics.pending_exposures
                (environment_id, context_kind, context_key, flag_key, received_hour, exposed_at, variation, due_at)
            SELECT e, k, c, f, to_timestamp(rh / 1000.0), a, v, to_timestamp(d / 1000.0)
            FROM unnest(\(rows.map(\.key.cell.context.environmentID)), \(rows.map(\.key.cell.context.context.kind)),
                \(rows.map(\.key.cell.context.context.key)), \(rows.map(\.key.cell.flagKey)), \(rows.map(\.key.receivedHour)),
                \(rows.map(\.value.value.exposedAt)), \(rows.map { Int32(clamping: $0.value.value.variation) }), \(rows.map(\.value.dueAt)))
                AS t(e, k, c, f, rh, a, v, d)
            """, logger: logger)
    }

    /// Appends the chunk's pending goals, like ``writeExposures(on:logger:)``.
    private func writeGoals(on connection: PostgresConnection, logger: Logger) async throws {
        let rows = goals
        try await connection.query(
            """
            INSERT INTO analytics.pending_goals
                (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, events,
                 value_sum, value_sum_squares, due_at)
            SELECT e, k, c, m, o, to_timestamp(rh / 1000.0), n, s::numeric, q::numeric, to_timestamp(d / 1000.0)
            FROM unnest(\(rows.map(\.key.cell.context.environmentID)), \(rows.map(\.key.cell.context.context.kind)),
                \(rows.map(\.key.cell.context.context.key)), \(rows.map(\.key.cell.metricKey)), \(rows.map(\.key.cell.occurredAt)),
                \(rows.map(\.key.receivedHour)), \(rows.map(\.value.value.events)), \(rows.map(\.value.value.valueSumText)),
                \(rows.map(\.value.value.valueSquaresText)), \(rows.map(\.value.dueAt))) AS t(e, k, c, m, o, rh, n, s, q, d)
            """, logger: logger)
    }
}

/// A flag in an environment.
struct FlagIdentity: Hashable, Sendable {
    var environmentID: String
    var flagKey: String
}

extension EvaluationCell {
    var flag: FlagIdentity { FlagIdentity(environmentID: environmentID, flagKey: flagKey) }
}
