import Foundation
import Logging
import ModelsCore
import PostgresNIO
import PostgresSupport

/// The processor's PostgreSQL state: offsets, deduplication, pending and final correlation state,
/// and the aggregate tables of the `analytics` schema.
///
/// Concurrency: chunk commits of any number of processors run in parallel (each partition's
/// offset row is locked `FOR UPDATE`, which fences two members that both think they own a
/// partition). Finalization and pruning change the final correlation state and the experiment
/// tables from whole-context histories, so they run one at a time (an exclusive advisory lock),
/// but alongside chunk commits: chunks append pending rows to their own tables, and finalization
/// takes (deletes) the due ones that are committed and merges them into the final rows, so the
/// two never wait for each other's rows; a row committed meanwhile is taken by the next round. A
/// replay rewind excludes both (it takes both locks).
struct AnalyticsStore: Sendable {
    let client: PostgresClient
    let topic: String
    /// How long exposures and goals are held before they are correlated.
    let delay: UnixMilliseconds
    /// Events created longer than this before receipt are not correlated; raw state older than
    /// this is pruned; replays cannot start further back.
    let retention: UnixMilliseconds
    let logger: Logger
    /// Finalization's own connection, outside the pool (see ``FinalizationConnection``).
    let finalization: FinalizationConnection
    /// Which contexts may have final rows (see ``FinalizedContexts``), shared by every copy of the store.
    let finalized = FinalizedContexts()

    /// Shared by chunk commits, exclusive for replay rewinds.
    static let commitLockID: Int64 = 0x7661_6E65_7374_6174  // "vanestat"
    /// Exclusive for finalization, pruning and replay rewinds.
    static let correlationLockID: Int64 = 0x7661_6E65_636F_7272  // "vanecorr"

    var extraction: EventExtraction { EventExtraction(lateness: retention) }

    /// Settings of chunk commits and finalization, in one round trip: asynchronous commit (see the callers); no JIT
    /// compilation: the statements' cost estimates grow with the arrays bound to them (20,000 contexts look expensive)
    /// and cross `jit_above_cost`, but each is a nested loop of index lookups, which compiling to machine code cannot
    /// speed up; and room to sort and group a round's pending rows in memory (the default 4 MB spilled them to disk).
    static let transactionSettings: PostgresQuery =
        "SELECT set_config('synchronous_commit', 'off', true), set_config('jit', 'off', true), set_config('work_mem', '64MB', true)"

    // MARK: - Offsets

    /// The stored positions of the given partitions (missing: never processed).
    func positions(partitions: [Int32]) async throws -> [Int32: PartitionPosition] {
        let rows = try await client.query(
            """
            SELECT partition, next_offset, epoch, replay_until,
                   (extract(epoch FROM replay_received_from) * 1000)::bigint
            FROM analytics.consumer_offsets WHERE topic = \(topic) AND partition = ANY(\(partitions))
            """, logger: logger)
        var result: [Int32: PartitionPosition] = [:]
        for try await (partition, next, epoch, until, from) in rows.decode((Int32, Int64, Int64, Int64?, Int64?).self) {
            result[partition] = PartitionPosition(nextOffset: next, epoch: epoch, replayUntil: until, replayReceivedFrom: from)
        }
        return result
    }

    // MARK: - Chunk commit

    /// Counts a chunk of consumed records and advances the partitions' offsets, in one
    /// transaction. Records below a partition's stored offset are skipped (already counted), as
    /// are duplicate payloads; every record still advances its partition's offset.
    ///
    /// - Parameter epochs: The epoch under which the consumer read each partition's start offset.
    /// - Throws: ``ProcessorError/epochChanged(partition:expected:found:)`` when a replay rewound
    ///   one of the partitions since; nothing is committed then.
    func commit(_ prepared: PreparedChunk, epochs: [Int32: Int64]) async throws -> ChunkCommit {
        try await retrying {
            try await client.withTransaction(logger: logger) { connection in
                try await commit(prepared, epochs: epochs, on: connection)
            }
        }
    }

    /// Aggregates and sorts a chunk's rows ahead of its transaction (see ``PreparedChunk``).
    func prepare(_ chunk: [ConsumedRecord]) -> PreparedChunk {
        var assumed: [Int] = []
        var seenPayloads: Set<PayloadKey> = []
        var aggregate = ChunkAggregate()
        for (index, consumed) in chunk.enumerated() {
            guard let record = consumed.envelope,
                seenPayloads.insert(PayloadKey(environmentID: record.environmentID, payloadID: record.payloadID)).inserted
            else { continue }
            assumed.append(index)
            aggregate.add(consumed.contribution, receivedAt: record.receivedAt, delay: delay)
        }
        return PreparedChunk(records: chunk, assumed: assumed, rows: aggregate.sorted())
    }

    private func commit(_ prepared: PreparedChunk, epochs: [Int32: Int64], on connection: PostgresConnection) async throws -> ChunkCommit {
        let chunk = prepared.records
        var outcome = ChunkCommit(records: chunk.count)
        let partitions = Array(Set(chunk.map(\.partition))).sorted()
        // Losing the last commits in a PostgreSQL crash loses their offsets with them: the
        // records are read and counted again, so durability can be asynchronous.
        try await connection.query(Self.transactionSettings, logger: logger)
        try await connection.query("SELECT pg_advisory_xact_lock_shared(\(Self.commitLockID))", logger: logger)
        var stored: [Int32: PartitionPosition] = [:]
        let rows = try await connection.query(
            """
            SELECT partition, next_offset, epoch, replay_until,
                   (extract(epoch FROM replay_received_from) * 1000)::bigint
            FROM analytics.consumer_offsets WHERE topic = \(topic) AND partition = ANY(\(partitions))
            ORDER BY partition FOR UPDATE
            """, logger: logger)
        for try await (partition, next, epoch, until, from) in rows.decode((Int32, Int64, Int64, Int64?, Int64?).self) {
            stored[partition] = PartitionPosition(nextOffset: next, epoch: epoch, replayUntil: until, replayReceivedFrom: from)
        }
        for partition in partitions {
            let found = stored[partition]?.epoch ?? 0
            let expected = epochs[partition] ?? 0
            if found != expected { throw ProcessorError.epochChanged(partition: partition, expected: expected, found: found) }
        }

        // Which records count: new offsets only, minus what a running replay must not recount.
        var next: [Int32: Int64] = [:]
        var candidates: [Int] = []
        var seenPayloads: Set<PayloadKey> = []
        for (index, consumed) in chunk.enumerated() {
            let position = stored[consumed.partition]
            let floor = next[consumed.partition] ?? position?.nextOffset ?? 0
            guard consumed.offset >= floor else {
                outcome.alreadyProcessed += 1
                continue
            }
            next[consumed.partition] = consumed.offset + 1
            guard let record = consumed.envelope else {
                outcome.malformedRecords += 1
                continue
            }
            if let until = position?.replayUntil, let from = position?.replayReceivedFrom, consumed.offset < until,
                record.receivedAt < from {
                outcome.replaySkipped += 1
                continue
            }
            guard seenPayloads.insert(PayloadKey(environmentID: record.environmentID, payloadID: record.payloadID)).inserted else {
                outcome.duplicatePayloads += 1
                continue
            }
            candidates.append(index)
        }

        // Payload deduplication against earlier chunks.
        var fresh: Set<PayloadKey> = []
        if !candidates.isEmpty {
            let inserted = try await connection.query(
                """
                INSERT INTO analytics.processed_payloads (environment_id, payload_id, received_at)
                SELECT e, p, to_timestamp(r / 1000.0) FROM unnest(\(candidates.map { chunk[$0].envelope!.environmentID }),
                    \(candidates.map { chunk[$0].envelope!.payloadID }), \(candidates.map { chunk[$0].envelope!.receivedAt }))
                    AS t(e, p, r)
                ON CONFLICT DO NOTHING RETURNING environment_id, payload_id
                """, logger: logger)
            for try await (environmentID, payloadID) in inserted.decode((String, String).self) {
                fresh.insert(PayloadKey(environmentID: environmentID, payloadID: payloadID))
            }
        }
        var counted: [Int] = []
        for index in candidates {
            let record = chunk[index].envelope!
            guard fresh.contains(PayloadKey(environmentID: record.environmentID, payloadID: record.payloadID)) else {
                outcome.duplicatePayloads += 1
                continue
            }
            outcome.counted += 1
            outcome.statistics.add(chunk[index].statistics)
            counted.append(index)
        }
        // The rows prepared ahead hold exactly the records that count, unless some were redelivered, replayed or
        // retried: then aggregate what counts here.
        var sorted = prepared.rows
        if counted != prepared.assumed {
            var aggregate = ChunkAggregate()
            for index in counted {
                aggregate.add(chunk[index].contribution, receivedAt: chunk[index].envelope!.receivedAt, delay: delay)
            }
            sorted = aggregate.sorted()
        }
        try await sorted.write(on: connection, logger: logger)
        outcome.earliestDue = sorted.earliestDue

        // Advance the offsets. A partition without a row gets one; if another member inserted it
        // meanwhile, the unique violation rolls this chunk back and it is retried.
        let existing = next.keys.filter { stored[$0] != nil }.sorted()
        let missing = next.keys.filter { stored[$0] == nil }.sorted()
        if !existing.isEmpty {
            try await connection.query(
                """
                UPDATE analytics.consumer_offsets o SET next_offset = t.n, updated_at = now(),
                    replay_until = CASE WHEN t.n >= o.replay_until THEN NULL ELSE o.replay_until END,
                    replay_received_from = CASE WHEN t.n >= o.replay_until THEN NULL ELSE o.replay_received_from END
                FROM unnest(\(existing), \(existing.map { next[$0]! })) AS t(p, n)
                WHERE o.topic = \(topic) AND o.partition = t.p
                """, logger: logger)
        }
        if !missing.isEmpty {
            try await connection.query(
                """
                INSERT INTO analytics.consumer_offsets (topic, partition, next_offset, epoch)
                SELECT \(topic), p, n, 0 FROM unnest(\(missing), \(missing.map { next[$0]! })) AS t(p, n)
                """, logger: logger)
        }
        return outcome
    }

    // MARK: - Finalization

    /// What one finalization round did.
    struct FinalizationRound: Sendable {
        /// Contexts correlated.
        var contexts = 0
        /// Whether more due rows may be left (the round read as many as its limit allowed).
        var more = false
        /// Contexts whose final rows were read (the others cannot have any).
        var probedContexts = 0
    }

    /// Correlates pending exposures and goals whose delay has passed: up to `contextLimit` due rows of each table (so
    /// at most twice that many contexts), taken out of the pending tables and merged into their contexts' final rows.
    func finalizeDue(now: UnixMilliseconds, contextLimit: Int) async throws -> FinalizationRound {
        try await retrying {
            let (round, transition) = try await client.withTransaction(logger: logger) {
                connection -> (FinalizationRound, FinalizedContexts.Transition?) in
                // Pending rows stay pending if this commit is lost: finalizing again is the same.
                try await connection.query(Self.transactionSettings, logger: logger)
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.correlationLockID))", logger: logger)
                let generation = try await finalRowsGeneration(on: connection, locking: true)
                // Due rows are read through the due index, with their location: nothing else deletes or updates
                // pending rows (rewinds take this lock too) and chunk commits only append, so nothing needs locking or
                // skipping, and the locations stay valid until ``writeFinal`` deletes exactly these rows. A row
                // committed after this snapshot is taken by a later round. Any subset of a context's pending rows can be
                // correlated on its own, since a round recomputes the context from all its final rows.
                //
                // Both tables are read in due order up to the same instant, so that a context's exposures and goals of the
                // same batches are correlated in the same round: each round probes each of its contexts' final rows, and
                // rounds cut independently took most contexts twice. The goals are read on finalization's own
                // connection while the exposures are read here (for the same reason as the final goal rows: pending rows
                // are deleted under the correlation lock alone, which this transaction holds), up to now; the cut is
                // made here once both are in.
                let logger = self.logger
                async let dueGoals = finalization.run { own in
                    try await Self.dueGoals(until: now, limit: contextLimit, on: own, logger: logger)
                }
                let takenExposures = try await Self.dueExposures(until: now, limit: contextLimit, on: connection, logger: logger)
                // A full batch of exposures ends at its last due time (rows due at that same instant beyond the limit wait
                // for the next round); the goals stop there too.
                var cutoff = now
                if takenExposures.count >= contextLimit, let last = takenExposures.last { cutoff = last.dueAt }
                let goals = try await dueGoals
                let goalCount = goals.count
                // A full batch of goals ends earlier: the exposures due after its last goal wait for the next round. (A
                // full batch that goes past the exposures' cut leaves this cut as it is.)
                if goalCount >= contextLimit, let last = goals.last { cutoff = min(cutoff, last.dueAt) }
                var taken = TakenRows()
                for due in goals where due.dueAt <= cutoff { taken.add(due.context, due.row) }
                for due in takenExposures where due.dueAt <= cutoff { taken.add(due.context, due.row) }
                let exposureCount = takenExposures.count
                var round = FinalizationRound(more: exposureCount >= contextLimit || goalCount >= contextLimit)
                guard !taken.contexts.isEmpty else { return (round, nil) }
                let hashes = taken.contexts.map(ContextFilter.hash)
                let finals = try await loadFinalHistories(
                    taken.contexts, probing: finalized.mayHaveFinalRows(hashes, at: generation), on: connection)
                var delta = ExperimentTotals()
                for (index, context) in taken.contexts.enumerated() {
                    // Most contexts being correlated have no final rows yet: nothing to subtract.
                    if !finals[index].rows.isEmpty {
                        delta.add(finals[index].history { _ in true }, environmentID: context.environmentID, sign: -1)
                    }
                    let all = HistoryRows(rows: finals[index].rows + taken.rows[index])
                    delta.add(all.history { _ in true }, environmentID: context.environmentID)
                }
                delta.removeZeros()
                try await apply(delta, on: connection)
                try await writeFinal(taken, finals: finals, on: connection)
                round.contexts = taken.contexts.count
                round.probedContexts = finals.probed
                let after = try await finalRowsGeneration(on: connection)
                return (round, FinalizedContexts.Transition(from: generation, to: after, contexts: hashes))
            }
            // Only once the commit is known: a round whose commit was lost is retried, finds a generation its filter
            // did not see, and probes every context.
            if let transition { finalized.committed(transition) }
            return round
        }
    }

    /// `analytics.final_rows_generation` (see ``FinalizedContexts``), read in its own statement: under the correlation
    /// lock, a statement started after the lock was granted sees every change committed before.
    ///
    /// `locking` (at the start of a change) also locks the counter's row until the commit: every writer of final rows
    /// raises the counter from its trigger, so no one else's write can then commit between this read and the end of the
    /// change, and the generations from this value to the one read at the end are all this transaction's. (Writers that
    /// do not take the correlation lock, an operator's repair for one, would otherwise slip in unnoticed.)
    private func finalRowsGeneration(on connection: PostgresConnection, locking: Bool = false) async throws -> Int64 {
        let rows = try await connection.query(
            locking ? "SELECT generation FROM analytics.final_rows_generation FOR UPDATE"
                : "SELECT generation FROM analytics.final_rows_generation", logger: logger)
        var generation: Int64?
        for try await value in rows.decode(Int64.self) { generation = value }
        guard let generation else { throw ProcessorError.missingFinalRowsGeneration }
        return generation
    }

    /// A filter of every context with final rows, and the generation it is complete for: both read in one snapshot, so
    /// that a round committed meanwhile is either in both or in neither. The pool connection is held for the two
    /// scans (index-only over the final tables' keys); nothing waits for the locks they take.
    func buildFinalizedContexts() async throws -> (filter: ContextFilter, generation: Int64) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            let generation = try await finalRowsGeneration(on: connection)
            let rows = try await connection.query(
                """
                SELECT DISTINCT environment_id, context_kind, context_key FROM analytics.exposures
                UNION ALL
                SELECT DISTINCT environment_id, context_kind, context_key FROM analytics.goals
                """, logger: logger)
            var hashes: [UInt64] = []
            for try await (environmentID, kind, key) in rows.decode((String, String, String).self) {
                hashes.append(ContextFilter.hash(environmentID: environmentID, kind: kind, key: key))
            }
            // Room for the tables to double before the filter is rebuilt larger.
            var filter = ContextFilter(capacity: 2 * hashes.count)
            for hash in hashes { filter.insert(hash) }
            return (filter, generation)
        }
    }

    /// A due pending row, with its context and when it became due.
    struct DueRow: Sendable {
        let context: EnvironmentContext
        let row: HistoryRow
        let dueAt: UnixMilliseconds
    }

    /// Up to `limit` pending exposures due by `until`, in due order.
    static func dueExposures(
        until: UnixMilliseconds, limit: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [DueRow] {
        try await dueRows(of: "pending_exposures", payload: "flag_key, exposed_at, variation",
            until: until, limit: limit, on: connection, logger: logger) { columns in
            let (flagKey, exposedAt, variation) = try (columns.next(String.self), columns.next(Int64.self), columns.next(Int32.self))
            return .exposure(flagKey: flagKey, Exposure(exposedAt: exposedAt, variation: Int(variation)))
        }
    }

    /// Up to `limit` pending goals due by `until`, in due order.
    static func dueGoals(
        until: UnixMilliseconds, limit: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [DueRow] {
        try await dueRows(
            of: "pending_goals",
            payload: "metric_key, occurred_at, events, nullif(value_sum, 0)::text, nullif(value_sum_squares, 0)::text",
            until: until, limit: limit, on: connection, logger: logger) { columns in
            let (metricKey, occurredAt, events, sum, squares) = try (
                columns.next(String.self), columns.next(Int64.self), columns.next(Int64.self), columns.next(String?.self),
                columns.next(String?.self))
            return .goal(metricKey: metricKey, occurredAt: occurredAt, GoalTally(events: events, storedSum: sum, storedSquares: squares))
        }
    }

    /// Up to `limit` rows of the pending table `table` due by `until`, in due order: each row's location, context,
    /// receipt hour and due time, then the `payload` columns, which `decodePayload` reads.
    private static func dueRows(
        of table: String, payload: String, until: UnixMilliseconds, limit: Int, on connection: PostgresConnection,
        logger: Logger, _ decodePayload: (inout ColumnReader) throws -> HistoryRow.Payload
    ) async throws -> [DueRow] {
        let result = try await connection.query(
            """
            SELECT ctid::text, environment_id, context_kind, context_key, (extract(epoch FROM received_hour) * 1000)::bigint,
                   (extract(epoch FROM due_at) * 1000)::bigint, \(unescaped: payload)
            FROM analytics.\(unescaped: table) WHERE due_at <= to_timestamp(\(until) / 1000.0) ORDER BY due_at LIMIT \(limit)
            """, logger: logger)
        var rows: [DueRow] = []
        for try await row in result {
            var columns = ColumnReader(row)
            let (location, environmentID, kind, key) = try (
                columns.next(String.self), columns.next(String.self), columns.next(String.self), columns.next(String.self))
            let (receivedHour, dueAt) = try (columns.next(Int64.self), columns.next(Int64.self))
            rows.append(DueRow(
                context: EnvironmentContext(environmentID: environmentID, context: ContextIdentity(kind: kind, key: key)),
                row: HistoryRow(isFinal: false, receivedHour: receivedHour, location: location, payload: try decodePayload(&columns)),
                dueAt: dueAt))
        }
        return rows
    }

    /// Pending rows taken by a finalization round, grouped by context.
    struct TakenRows {
        var contexts: [EnvironmentContext] = []
        /// The pending rows of `contexts[i]`.
        var rows: [[HistoryRow]] = []
        private var positions: [EnvironmentContext: Int] = [:]

        mutating func add(_ context: EnvironmentContext, _ row: HistoryRow) {
            if let position = positions[context] {
                rows[position].append(row)
            } else {
                positions[context] = contexts.count
                contexts.append(context)
                rows.append([row])
            }
        }
    }

    /// Moves the taken pending rows into the final rows: each statement deletes pending rows by their location (a TID
    /// scan) and inserts them, in the same statement, so that no row travels back from the processor. A key without a
    /// final row yet (nearly all of them) is a plain insert; only the others are merged into their final row with a
    /// conflict clause. No other transaction can create a final row meanwhile: final rows change under the correlation
    /// lock alone, and every final row of these contexts was loaded. Rows of the same key (written by several chunks)
    /// are merged by the statement; a key taken once needs no merging, and skipping the sort or grouping that merging
    /// takes is a third of the statement's time (`auto_explain`), so such rows go through a statement of their own.
    private func writeFinal(_ taken: TakenRows, finals: ProbedHistories, on connection: PostgresConnection) async throws {
        var exposures = MoveGroups()
        var goals = MoveGroups()
        var instants: [ExposureCell: [UnixMilliseconds: Int]] = [:]
        for (index, rows) in taken.rows.enumerated() {
            // Most contexts being correlated have no final rows: nothing merges.
            let finalKeys = finals[index].rows.isEmpty ? [] : finals[index].finalKeys()
            let repeated = Self.repeatedKeys(rows)
            for row in rows {
                guard let location = row.location else { continue }
                let key = row.key
                let move: MoveGroups.Move = !finalKeys.isEmpty && finalKeys.contains(key) ? .merged
                    : repeated.contains(key) ? .grouped : .single
                switch row.payload {
                case .exposure(let flagKey, let exposure):
                    exposures.add(location, move)
                    let cell = ExposureCell(context: taken.contexts[index], flagKey: flagKey)
                    instants[cell, default: [:]][exposure.exposedAt, default: exposure.variation].keepSmaller(exposure.variation)
                case .goal:
                    goals.add(location, move)
                }
            }
        }
        for (move, locations) in exposures.nonEmpty {
            let conflict = move == .merged ? """
                ON CONFLICT (environment_id, context_kind, context_key, flag_key, received_hour, is_final) DO UPDATE SET
                    exposed_at = CASE WHEN (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
                                      THEN EXCLUDED.exposed_at ELSE x.exposed_at END,
                    variation = CASE WHEN (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
                                     THEN EXCLUDED.variation ELSE x.variation END
                """ : ""
            // The earliest exposure of each key (ties: the lower variation).
            let select = move == .single
                ? "SELECT" : "SELECT DISTINCT ON (environment_id, context_kind, context_key, flag_key, received_hour)"
            let order = move == .single
                ? "" : "ORDER BY environment_id, context_kind, context_key, flag_key, received_hour, exposed_at, variation"
            try await connection.query(
                """
                WITH taken AS (
                    DELETE FROM analytics.pending_exposures WHERE ctid = ANY(\(locations)::text[]::tid[]) RETURNING *)
                INSERT INTO analytics.exposures AS x
                    (environment_id, context_kind, context_key, flag_key, received_hour, is_final, exposed_at, variation, due_at)
                \(unescaped: select)
                       environment_id, context_kind, context_key, flag_key, received_hour, true, exposed_at, variation, due_at
                FROM taken \(unescaped: order)
                \(unescaped: conflict)
                """, logger: logger)
        }
        // An iteration whose row was not visible yet when these exposures were first written (its start committed
        // while they were in flight) still gets them; for the others this is the same min again.
        try await IterationExposures.record(instants, on: connection, logger: logger)
        for (move, locations) in goals.nonEmpty {
            let conflict = move == .merged ? """
                ON CONFLICT (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final) DO UPDATE SET
                    events = g.events + EXCLUDED.events, value_sum = g.value_sum + EXCLUDED.value_sum,
                    value_sum_squares = g.value_sum_squares + EXCLUDED.value_sum_squares
                """ : ""
            let rows = move == .single
                ? """
                  SELECT environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, true, events,
                         value_sum, value_sum_squares, due_at
                  FROM taken
                  """
                : """
                  SELECT environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, true, sum(events),
                         sum(value_sum), sum(value_sum_squares), min(due_at)
                  FROM taken GROUP BY environment_id, context_kind, context_key, metric_key, occurred_at, received_hour
                  """
            try await connection.query(
                """
                WITH taken AS (
                    DELETE FROM analytics.pending_goals WHERE ctid = ANY(\(locations)::text[]::tid[]) RETURNING *)
                INSERT INTO analytics.goals AS g
                    (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final, events,
                     value_sum, value_sum_squares, due_at)
                \(unescaped: rows)
                \(unescaped: conflict)
                """, logger: logger)
        }
    }

    /// The pending rows of one table a round moves, by how they become final.
    struct MoveGroups {
        enum Move: CaseIterable {
            /// The only pending row of its key, which has no final row: inserted as it is.
            case single
            /// One of several pending rows of its key, which has no final row: merged with them, then inserted.
            case grouped
            /// Its key has a final row: merged into it.
            case merged
        }

        private var locations: [Move: [String]] = [:]

        mutating func add(_ location: String, _ move: Move) { locations[move, default: []].append(location) }

        /// Each kind of move with its rows' locations, in a fixed order, leaving out the kinds without rows.
        var nonEmpty: [(Move, [String])] {
            Move.allCases.compactMap { move in locations[move].flatMap { $0.isEmpty ? nil : (move, $0) } }
        }
    }

    /// The keys that occur more than once among one context's taken rows (usually none: a context has a row or two).
    static func repeatedKeys(_ rows: [HistoryRow]) -> Set<HistoryRow.Key> {
        guard rows.count > 1 else { return [] }
        var seen: Set<HistoryRow.Key> = []
        var repeated: Set<HistoryRow.Key> = []
        for row in rows where !seen.insert(row.key).inserted { repeated.insert(row.key) }
        return repeated
    }

    /// Adds a change to the experiment tables and removes cells that became empty.
    private func apply(_ delta: ExperimentTotals, on connection: PostgresConnection) async throws {
        if !delta.exposedContexts.isEmpty {
            let cells = delta.exposedContexts.sorted {
                ($0.key.environmentID, $0.key.flagKey, $0.key.variation) < ($1.key.environmentID, $1.key.flagKey, $1.key.variation)
            }
            try await connection.query(
                """
                INSERT INTO analytics.experiment_exposures AS x (environment_id, flag_key, variation, exposed_contexts)
                SELECT e, f, v, n FROM unnest(\(cells.map(\.key.environmentID)), \(cells.map(\.key.flagKey)),
                    \(cells.map { Int32(clamping: $0.key.variation) }), \(cells.map(\.value))) AS t(e, f, v, n)
                ON CONFLICT (environment_id, flag_key, variation) DO UPDATE
                SET exposed_contexts = x.exposed_contexts + EXCLUDED.exposed_contexts
                """, logger: logger)
            try await connection.query("DELETE FROM analytics.experiment_exposures WHERE exposed_contexts = 0", logger: logger)
        }
        if !delta.metrics.isEmpty {
            let cells = delta.metrics.sorted {
                ($0.key.variation.environmentID, $0.key.variation.flagKey, $0.key.variation.variation, $0.key.metricKey)
                    < ($1.key.variation.environmentID, $1.key.variation.flagKey, $1.key.variation.variation, $1.key.metricKey)
            }
            try await connection.query(
                """
                INSERT INTO analytics.experiment_metrics AS x (environment_id, flag_key, variation, metric_key, observed_contexts,
                    converted_contexts, conversion_events, value_sum, value_sum_squares)
                SELECT e, f, v, m, o, c, n, s::numeric, q::numeric
                FROM unnest(\(cells.map(\.key.variation.environmentID)), \(cells.map(\.key.variation.flagKey)),
                    \(cells.map { Int32(clamping: $0.key.variation.variation) }), \(cells.map(\.key.metricKey)),
                    \(cells.map(\.value.observedContexts)), \(cells.map(\.value.convertedContexts)), \(cells.map(\.value.conversionEvents)),
                    \(cells.map(\.value.valueSum.numericText)), \(cells.map(\.value.valueSquares.numericText)))
                    AS t(e, f, v, m, o, c, n, s, q)
                ON CONFLICT (environment_id, flag_key, variation, metric_key) DO UPDATE SET
                    observed_contexts = x.observed_contexts + EXCLUDED.observed_contexts,
                    converted_contexts = x.converted_contexts + EXCLUDED.converted_contexts,
                    conversion_events = x.conversion_events + EXCLUDED.conversion_events,
                    value_sum = x.value_sum + EXCLUDED.value_sum,
                    value_sum_squares = x.value_sum_squares + EXCLUDED.value_sum_squares
                """, logger: logger)
            try await connection.query(
                """
                DELETE FROM analytics.experiment_metrics WHERE observed_contexts = 0 AND converted_contexts = 0
                    AND conversion_events = 0 AND value_sum = 0 AND value_sum_squares = 0
                """, logger: logger)
        }
    }

    /// A stored exposure or goal row of a context history, with what decides which histories it
    /// belongs to.
    struct HistoryRow: Sendable {
        enum Payload: Sendable {
            case exposure(flagKey: String, Exposure)
            case goal(metricKey: String, occurredAt: UnixMilliseconds, GoalTally)
        }
        /// A row's primary key within its context, apart from `is_final`.
        enum Key: Hashable, Sendable {
            case exposure(flagKey: String, receivedHour: UnixMilliseconds)
            case goal(metricKey: String, occurredAt: UnixMilliseconds, receivedHour: UnixMilliseconds)
        }

        var isFinal: Bool
        var receivedHour: UnixMilliseconds
        /// A pending row's `ctid` (nothing but the round that read it deletes it, so it stays valid).
        var location: String?
        var payload: Payload

        var key: Key {
            switch payload {
            case .exposure(let flagKey, _): .exposure(flagKey: flagKey, receivedHour: receivedHour)
            case .goal(let metricKey, let occurredAt, _): .goal(metricKey: metricKey, occurredAt: occurredAt, receivedHour: receivedHour)
            }
        }
    }

    /// Rows of one context.
    struct HistoryRows: Sendable {
        var rows: [HistoryRow] = []

        /// The keys of the final rows (most contexts being correlated have none).
        func finalKeys() -> Set<HistoryRow.Key> {
            var keys: Set<HistoryRow.Key> = []
            for row in rows where row.isFinal { keys.insert(row.key) }
            return keys
        }

        /// The history made of the rows `include` accepts.
        func history(_ include: (HistoryRow) -> Bool) -> ContextHistory {
            var history = ContextHistory()
            for row in rows where include(row) {
                switch row.payload {
                case .exposure(let flagKey, let exposure): history.addExposure(flagKey: flagKey, exposure)
                case .goal(let metricKey, let occurredAt, let tally): history.addGoal(metricKey: metricKey, at: occurredAt, tally)
                }
            }
            return history
        }
    }

    /// Loads the final rows of contexts, in the order of `contexts` (one ``HistoryRows`` each, empty for a context
    /// without final rows).
    ///
    /// Each context's rows are read through the primary key (a nested loop over the contexts, written as `LATERAL`):
    /// a join let the planner sort and merge the whole table instead, whose final rows only ever grow (`OFFSET 0` keeps
    /// the planner from turning the `LATERAL` subquery into such a join). Nothing is locked: final rows change under the
    /// correlation lock alone, which every caller holds. For that reason the goals can be read outside the caller's
    /// transaction, on finalization's own connection, while the exposures are read on the transaction's: the two loads
    /// (and decoding their rows) overlap.
    private func loadFinalHistories(
        _ all: [EnvironmentContext], probing: [Bool]?, on connection: PostgresConnection
    ) async throws -> ProbedHistories {
        // Contexts that cannot have final rows keep an empty history; positions below are in `probed`.
        let positions = probing.map { probing in all.indices.filter { probing[$0] } } ?? Array(all.indices)
        var histories = ProbedHistories(rows: [HistoryRows](repeating: HistoryRows(), count: all.count), probed: positions.count)
        guard !positions.isEmpty else { return histories }
        let contexts = positions.map { all[$0] }
        let (environments, kinds, keys) = Self.columns(contexts)
        let logger = self.logger
        // Rows name their context by its position in `contexts` (WITH ORDINALITY, from 1), not by its three strings:
        // decoding and hashing those for every row was most of the processor's time here. Only goals with values need
        // their sums parsed.
        async let goalRows = finalization.run { own in
            let goals = try await own.query(
                """
                SELECT c.i, g.metric_key, (extract(epoch FROM g.received_hour) * 1000)::bigint,
                       g.occurred_at, g.events, nullif(g.value_sum, 0)::text, nullif(g.value_sum_squares, 0)::text
                FROM unnest(\(environments), \(kinds), \(keys)) WITH ORDINALITY AS c(e, k, c, i)
                CROSS JOIN LATERAL (
                    SELECT y.metric_key, y.received_hour, y.occurred_at, y.events, y.value_sum, y.value_sum_squares
                    FROM analytics.goals y
                    WHERE y.environment_id = c.e AND y.context_kind = c.k AND y.context_key = c.c AND y.is_final
                    OFFSET 0) AS g
                """, logger: logger)
            var rows: [(Int, HistoryRow)] = []
            for try await row in goals {
                var columns = ColumnReader(row)
                let (ordinal, metricKey, receivedHour, occurredAt) = try (
                    columns.next(Int64.self), columns.next(String.self), columns.next(Int64.self), columns.next(Int64.self))
                let (events, sum, squares) = try (columns.next(Int64.self), columns.next(String?.self), columns.next(String?.self))
                let tally = GoalTally(events: events, storedSum: sum, storedSquares: squares)
                rows.append((Int(ordinal) - 1, HistoryRow(isFinal: true, receivedHour: receivedHour,
                    payload: .goal(metricKey: metricKey, occurredAt: occurredAt, tally))))
            }
            return rows
        }
        let exposures = try await connection.query(
            """
            SELECT c.i, x.flag_key, (extract(epoch FROM x.received_hour) * 1000)::bigint, x.exposed_at, x.variation
            FROM unnest(\(environments), \(kinds), \(keys)) WITH ORDINALITY AS c(e, k, c, i)
            CROSS JOIN LATERAL (
                SELECT y.flag_key, y.received_hour, y.exposed_at, y.variation FROM analytics.exposures y
                WHERE y.environment_id = c.e AND y.context_kind = c.k AND y.context_key = c.c AND y.is_final
                OFFSET 0) AS x
            """, logger: logger)
        for try await row in exposures {
            var columns = ColumnReader(row)
            let (ordinal, flagKey, receivedHour, exposedAt, variation) = try (
                columns.next(Int64.self), columns.next(String.self), columns.next(Int64.self), columns.next(Int64.self),
                columns.next(Int32.self))
            histories.rows[positions[Int(ordinal) - 1]].rows.append(
                HistoryRow(isFinal: true, receivedHour: receivedHour,
                           payload: .exposure(flagKey: flagKey, Exposure(exposedAt: exposedAt, variation: Int(variation)))))
        }
        for (index, row) in try await goalRows { histories.rows[positions[index]].rows.append(row) }
        return histories
    }

    /// The final rows of a round's contexts, and how many contexts were probed for them.
    struct ProbedHistories {
        var rows: [HistoryRows]
        var probed: Int

        subscript(index: Int) -> HistoryRows { rows[index] }
    }

    /// Closes finalization's own connection (the pool is closed by its owner).
    func close() async {
        await finalization.close()
    }

    // MARK: - Replay

    /// What a rewind did.
    struct Rewind: Sendable {
        /// Where re-reading starts counting: the requested hour, or an earlier one if a previous
        /// replay is still re-reading.
        var receivedFrom: UnixMilliseconds
        /// The new positions (epoch bumped) of every partition.
        var positions: [Int32: PartitionPosition]
        var retractedContexts: Int
    }

    /// Removes everything derived from records received at or after `receivedFrom` (an hour
    /// start) and rewinds every partition to its beginning, in one transaction, so that the
    /// records are counted again (by this replay and by any running processor, whichever gets
    /// there first). Records counted before and received earlier are skipped while re-reading.
    func rewind(receivedFrom requested: UnixMilliseconds, partitions: [Int32]) async throws -> Rewind {
        try await Self.unwrapping { try await rewindTransaction(receivedFrom: requested, partitions: partitions) }
    }

    private func rewindTransaction(receivedFrom requested: UnixMilliseconds, partitions: [Int32]) async throws -> Rewind {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.commitLockID))", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.correlationLockID))", logger: logger)
            let pruned = try await connection.query(
                "SELECT (extract(epoch FROM pruned_before) * 1000)::bigint FROM analytics.retention_state WHERE id = 1", logger: logger)
            for try await prunedBefore in pruned.decode(Int64.self) where requested < prunedBefore {
                throw ProcessorError.replayBeforeRetention(
                    requested: Self.format(requested), prunedBefore: Self.format(prunedBefore))
            }
            var stored: [Int32: PartitionPosition] = [:]
            let rows = try await connection.query(
                """
                SELECT partition, next_offset, epoch, replay_until, (extract(epoch FROM replay_received_from) * 1000)::bigint
                FROM analytics.consumer_offsets WHERE topic = \(topic) ORDER BY partition FOR UPDATE
                """, logger: logger)
            for try await (partition, next, epoch, until, from) in rows.decode((Int32, Int64, Int64, Int64?, Int64?).self) {
                stored[partition] = PartitionPosition(nextOffset: next, epoch: epoch, replayUntil: until, replayReceivedFrom: from)
            }
            // A replay still in progress has not recounted everything after its own start yet:
            // start at the earlier of the two, and keep skipping what it still skips.
            var from = requested
            for position in stored.values {
                if let until = position.replayUntil, let active = position.replayReceivedFrom, position.nextOffset < until {
                    from = min(from, active)
                }
            }
            let retracted = try await retract(receivedFrom: from, on: connection)

            var positions: [Int32: PartitionPosition] = [:]
            for partition in Set(partitions).union(stored.keys).sorted() {
                let old = stored[partition]
                var until = old?.nextOffset ?? 0
                if let old, let activeUntil = old.replayUntil, old.nextOffset < activeUntil { until = max(until, activeUntil) }
                positions[partition] = PartitionPosition(
                    nextOffset: 0, epoch: (old?.epoch ?? 0) + 1, replayUntil: until > 0 ? until : nil,
                    replayReceivedFrom: until > 0 ? from : nil)
            }
            let ordered = positions.keys.sorted()
            try await connection.query(
                """
                INSERT INTO analytics.consumer_offsets AS o (topic, partition, next_offset, epoch, replay_until, replay_received_from)
                SELECT \(topic), p, 0, e, nullif(u, -1), CASE WHEN u = -1 THEN NULL ELSE to_timestamp(\(from) / 1000.0) END
                FROM unnest(\(ordered), \(ordered.map { positions[$0]!.epoch }), \(ordered.map { positions[$0]!.replayUntil ?? -1 }))
                    AS t(p, e, u)
                ON CONFLICT (topic, partition) DO UPDATE SET next_offset = 0, epoch = EXCLUDED.epoch,
                    replay_until = EXCLUDED.replay_until, replay_received_from = EXCLUDED.replay_received_from, updated_at = now()
                """, logger: logger)
            return Rewind(receivedFrom: from, positions: positions, retractedContexts: retracted)
        }
    }

    /// Subtracts everything derived from records received at or after `from` and deletes the
    /// raw state they produced. Returns how many contexts' experiment contributions changed.
    private func retract(receivedFrom from: UnixMilliseconds, on connection: PostgresConnection) async throws -> Int {
        // Experiments: recompute affected contexts without the retracted rows.
        let affected = try await connection.query(
            """
            SELECT environment_id, context_kind, context_key FROM analytics.exposures
                WHERE is_final AND received_hour >= to_timestamp(\(from) / 1000.0)
            UNION
            SELECT environment_id, context_kind, context_key FROM analytics.goals
                WHERE is_final AND received_hour >= to_timestamp(\(from) / 1000.0)
            """, logger: logger)
        var contexts: [EnvironmentContext] = []
        for try await (environmentID, kind, key) in affected.decode((String, String, String).self) {
            contexts.append(EnvironmentContext(environmentID: environmentID, context: ContextIdentity(kind: kind, key: key)))
        }
        contexts.sort()
        var start = 0
        while start < contexts.count {
            let batch = Array(contexts[start..<min(start + 2000, contexts.count)])
            start += batch.count
            let histories = try await loadFinalHistories(batch, probing: nil, on: connection)
            var delta = ExperimentTotals()
            for (context, rows) in zip(batch, histories.rows) where !rows.rows.isEmpty {
                delta.add(rows.history { $0.isFinal }, environmentID: context.environmentID, sign: -1)
                delta.add(rows.history { $0.isFinal && $0.receivedHour < from }, environmentID: context.environmentID)
            }
            delta.removeZeros()
            try await apply(delta, on: connection)
        }
        try await connection.query(
            "DELETE FROM analytics.exposures WHERE received_hour >= to_timestamp(\(from) / 1000.0)", logger: logger)
        try await connection.query(
            "DELETE FROM analytics.goals WHERE received_hour >= to_timestamp(\(from) / 1000.0)", logger: logger)
        try await connection.query(
            "DELETE FROM analytics.pending_exposures WHERE received_hour >= to_timestamp(\(from) / 1000.0)", logger: logger)
        try await connection.query(
            "DELETE FROM analytics.pending_goals WHERE received_hour >= to_timestamp(\(from) / 1000.0)", logger: logger)

        // Evaluations: subtract the retracted receipts, then recompute the affected flags' last
        // evaluation from what remains.
        try await connection.query(
            """
            UPDATE analytics.evaluations_hourly h SET evaluations = h.evaluations - r.n
            FROM (SELECT environment_id, flag_key, variation, hour, sum(evaluations) AS n FROM analytics.evaluations_by_receipt
                  WHERE received_hour >= to_timestamp(\(from) / 1000.0) GROUP BY environment_id, flag_key, variation, hour) r
            WHERE h.environment_id = r.environment_id AND h.flag_key = r.flag_key AND h.variation = r.variation AND h.hour = r.hour
            """, logger: logger)
        try await connection.query("DELETE FROM analytics.evaluations_hourly WHERE evaluations <= 0", logger: logger)
        try await connection.query(
            """
            WITH affected AS (
                DELETE FROM analytics.evaluations_by_receipt WHERE received_hour >= to_timestamp(\(from) / 1000.0)
                RETURNING environment_id, flag_key),
            flags AS (SELECT DISTINCT environment_id, flag_key FROM affected),
            remaining AS (
                SELECT f.environment_id, f.flag_key, max(r.last_evaluated_at) AS last
                FROM flags f LEFT JOIN analytics.evaluations_by_receipt r
                  ON r.environment_id = f.environment_id AND r.flag_key = f.flag_key
                 AND r.received_hour < to_timestamp(\(from) / 1000.0)
                GROUP BY f.environment_id, f.flag_key),
            cleared AS (
                DELETE FROM analytics.flag_last_evaluated l USING remaining m
                WHERE l.environment_id = m.environment_id AND l.flag_key = m.flag_key AND m.last IS NULL)
            UPDATE analytics.flag_last_evaluated l SET last_evaluated_at = m.last FROM remaining m
            WHERE l.environment_id = m.environment_id AND l.flag_key = m.flag_key AND m.last IS NOT NULL
            """, logger: logger)
        try await connection.query(
            "DELETE FROM analytics.processed_payloads WHERE received_at >= to_timestamp(\(from) / 1000.0)", logger: logger)
        return contexts.count
    }

    // MARK: - Pruning

    /// Removes raw state that can no longer change a result (see docs/analytics.md, "Retention"):
    /// payload ids and per-receipt evaluation counts outside the replay window, exposures that are
    /// not a context's earliest, and goal events too old to meet a future exposure (compacted into
    /// one row per context and metric). The horizon follows the data (the newest receipt, at most
    /// now), so a processor catching up on old records does not prune what it still needs.
    func prune(now: UnixMilliseconds) async throws {
        let transition = try await client.withTransaction(logger: logger) { connection -> FinalizedContexts.Transition? in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.correlationLockID))", logger: logger)
            let before = try await finalRowsGeneration(on: connection, locking: true)
            let newest = try await connection.query(
                "SELECT (extract(epoch FROM max(received_at)) * 1000)::bigint FROM analytics.processed_payloads", logger: logger)
            var newestReceipt: Int64?
            for try await value in newest.decode(Int64?.self) { newestReceipt = value }
            guard let newestReceipt else { return nil }
            // Whole hours only: the replay window and receipt rows are kept per hour.
            let horizon = (min(newestReceipt, now) - retention).hourStart
            let goalHorizon = horizon - retention
            try await connection.query(
                "DELETE FROM analytics.processed_payloads WHERE received_at < to_timestamp(\(horizon) / 1000.0)", logger: logger)
            try await connection.query(
                "DELETE FROM analytics.evaluations_by_receipt WHERE received_hour < to_timestamp(\(horizon) / 1000.0)", logger: logger)
            try await connection.query(
                """
                DELETE FROM analytics.exposures x
                WHERE x.is_final AND x.received_hour < to_timestamp(\(horizon) / 1000.0) AND EXISTS (
                    SELECT 1 FROM analytics.exposures y
                    WHERE y.is_final AND y.received_hour < to_timestamp(\(horizon) / 1000.0)
                      AND y.environment_id = x.environment_id AND y.context_kind = x.context_kind
                      AND y.context_key = x.context_key AND y.flag_key = x.flag_key
                      AND (y.exposed_at, y.variation, y.received_hour) < (x.exposed_at, x.variation, x.received_hour))
                """, logger: logger)
            // Old goals only matter for exposures that already exist (a new exposure is younger
            // than all of them), and for those only through "converted or not" and sums that
            // never change again: one row at the latest instant keeps both exact.
            try await connection.query(
                """
                WITH groups AS (
                    SELECT environment_id, context_kind, context_key, metric_key FROM analytics.goals
                    WHERE is_final AND received_hour < to_timestamp(\(horizon) / 1000.0) AND occurred_at < \(goalHorizon)
                    GROUP BY environment_id, context_kind, context_key, metric_key HAVING count(*) > 1),
                old AS (
                    DELETE FROM analytics.goals g USING groups c
                    WHERE g.environment_id = c.environment_id AND g.context_kind = c.context_kind AND g.context_key = c.context_key
                      AND g.metric_key = c.metric_key AND g.is_final
                      AND g.received_hour < to_timestamp(\(horizon) / 1000.0) AND g.occurred_at < \(goalHorizon)
                    RETURNING g.*)
                INSERT INTO analytics.goals AS g (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour,
                    is_final, events, value_sum, value_sum_squares, due_at)
                SELECT environment_id, context_kind, context_key, metric_key, max(occurred_at), min(received_hour), true,
                       sum(events), sum(value_sum), sum(value_sum_squares), min(due_at)
                FROM old GROUP BY environment_id, context_kind, context_key, metric_key
                ON CONFLICT (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final) DO UPDATE SET
                    events = g.events + EXCLUDED.events, value_sum = g.value_sum + EXCLUDED.value_sum,
                    value_sum_squares = g.value_sum_squares + EXCLUDED.value_sum_squares
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO analytics.retention_state (id, pruned_before) VALUES (1, to_timestamp(\(horizon) / 1000.0))
                ON CONFLICT (id) DO UPDATE SET pruned_before = greatest(analytics.retention_state.pruned_before, EXCLUDED.pruned_before)
                """, logger: logger)
            // Compacting goals rewrites final rows of contexts that have some: no context is added to the filter.
            return FinalizedContexts.Transition(from: before, to: try await finalRowsGeneration(on: connection), contexts: [])
        }
        if let transition { finalized.committed(transition) }
    }

    // MARK: - Helpers

    private static func columns(_ contexts: [EnvironmentContext]) -> ([String], [String], [String]) {
        (contexts.map(\.environmentID), contexts.map(\.context.kind), contexts.map(\.context.key))
    }

    static func format(_ milliseconds: UnixMilliseconds) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// Runs `body` again after deadlocks, serialization failures and unique violations (two
    /// members creating the same offset row), which roll the whole transaction back.
    private func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await Self.unwrapping(body)
            } catch {
                attempt += 1
                guard attempt < 5, Self.isTransient(error) else { throw error }
                logger.debug("retrying transaction", metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"])
                try await Task.sleep(for: .milliseconds(20 * attempt))
            }
        }
    }

    /// Our own errors thrown inside a transaction, without PostgresNIO's transaction wrapper.
    static func unwrapping<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? ProcessorError { throw inner }
            throw error
        }
    }

    static func isTransient(_ error: any Error) -> Bool {
        var candidates: [any Error] = [error]
        if let transaction = error as? PostgresTransactionError {
            candidates += [transaction.closureError, transaction.commitError, transaction.beginError].compactMap { $0 }
        }
        for candidate in candidates {
            if let psql = candidate as? PSQLError, let state = psql.serverInfo?[.sqlState],
                ["40001", "40P01", "23505"].contains(state)
            {
                return true
            }
        }
        return false
    }
}

/// A chunk of consumed records with its rows aggregated and sorted before its transaction (overlapping the previous
/// chunk's), assuming that every record with a valid envelope counts, the first of each payload id in the chunk. That
/// holds unless records are redelivered, replayed or retried by an SDK; the transaction checks it and aggregates again
/// otherwise, so the assumption only ever decides where the work is done.
struct PreparedChunk: Sendable {
    var records: [ConsumedRecord]
    /// The indices in `records` of the records `rows` were aggregated from, ascending.
    var assumed: [Int]
    var rows: SortedChunk
}

/// A batch's identity for deduplication.
struct PayloadKey: Hashable, Sendable {
    var environmentID: String
    var payloadID: String
}

extension GoalTally {
    /// A goal row as read back from PostgreSQL: its sums as text, NULL for zero (`nullif(…, 0)::text`, so that the
    /// many rows without values skip parsing).
    init(events: Int64, storedSum: String?, storedSquares: String?) {
        self.init(
            events: events, valueSum: storedSum.flatMap { Decimal(string: $0) } ?? 0,
            valueSquares: storedSquares.flatMap { Decimal(string: $0) } ?? 0)
    }
}
