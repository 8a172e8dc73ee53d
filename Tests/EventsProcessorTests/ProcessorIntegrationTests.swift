import Foundation
import ModelsCore
import Testing
import TestSupport

/// events-processor as a subprocess against PostgreSQL and the development broker.
@Suite("events-processor integration", .serialized, .timeLimit(.minutes(3)))
struct ProcessorIntegrationTests {
    @Test("ground truth with duplicates, reordering, a SIGKILL mid-stream and a scale-out gives exactly the expected tables; replay too")
    func groundTruthCrashAndReplay() async throws {
        try await ProcessorHarness.with { harness in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let batches = GroundTruthGenerator.batches(
                seed: 20261121, environments: ["env-a", "env-b", "env-c", "env-d", "env-e"], contextsPerEnvironment: 60,
                base: now - 900_000, span: 900_000)
            // SDK retries: about one batch in eight is delivered again, later and in another record.
            var stream = batches
            for (index, batch) in batches.enumerated() where index % 8 == 3 {
                stream.insert(batch, at: min(stream.count, index + 25))
            }
            let expected = ExpectedTables(batches: batches)
            #expect(expected.results.values.contains { $0.converted > 0 })
            #expect(expected.results.values.contains { $0.converted < $0.exposed })

            let first = try await harness.startProcessor(delaySeconds: 1)
            let cut = stream.count * 2 / 5
            try await harness.send(Array(stream[..<cut]))
            // Kill it mid-stream: after it committed something, while more is arriving.
            let deadline = ContinuousClock.now + .seconds(30)
            while try await harness.committedRecords() == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let secondCut = stream.count * 7 / 10
            try await harness.send(Array(stream[cut..<(cut + secondCut) / 2]))
            await first.stop(signal: SIGKILL)
            let committedAtKill = try await harness.committedRecords()
            #expect(committedAtKill > 0 && committedAtKill < Int64(stream.count))
            try await harness.send(Array(stream[(cut + secondCut) / 2..<secondCut]))

            let second = try await harness.startProcessor(delaySeconds: 1)
            defer { second.stopBlocking() }
            // Scale out while records arrive: the group rebalances between the two members.
            let third = try await harness.startProcessor(delaySeconds: 1)
            defer { third.stopBlocking() }
            try await harness.send(Array(stream[secondCut...]))
            let tables = try await harness.waitForTables(expected)
            #expect(tables == expected, "\(expected.difference(from: tables))\n\(second.logTail())")

            // "A bug counted every evaluation twice": the raw state and the tables agree with each
            // other and are wrong. Replaying everything (from the hour the stream started, with the
            // processor running) recounts it.
            try await harness.postgres.query("UPDATE analytics.evaluations_by_receipt SET evaluations = evaluations * 2",
                logger: harness.logger)
            try await harness.postgres.query("UPDATE analytics.evaluations_hourly SET evaluations = evaluations * 2",
                logger: harness.logger)
            #expect(try await harness.tables() != expected)
            let replay = try await harness.replay(from: AnalyticsTime.format(now - 3_600_000))
            #expect(replay.status == 0, "\(replay.standardError)")
            #expect(replay.standardOutput.contains("replayed from") && !replay.standardOutput.contains(" 0 context histories"),
                    "\(replay.standardOutput)")
            let replayed = try await harness.tables()
            #expect(replayed == expected, "\(expected.difference(from: replayed))\n\(replay.standardError)")
            // Idempotent: again, then the processor keeps the same totals.
            let again = try await harness.replay(from: AnalyticsTime.format(now))
            #expect(again.status == 0, "\(again.standardError)")
            let final = try await harness.waitForTables(expected, timeout: .seconds(20))
            #expect(final == expected, "\(expected.difference(from: final))\n\(second.logTail())")
        }
    }

    @Test("a goal before the exposure is not attributed; a goal arriving later within the delay is; events are held for the delay")
    func delayedAttribution() async throws {
        try await ProcessorHarness.with { harness in
            let processor = try await harness.startProcessor(delaySeconds: 4)
            defer { processor.stopBlocking() }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            func batch(_ id: String, _ events: [GeneratedEvent]) -> GeneratedBatch {
                GeneratedBatch(environmentID: "env", payloadID: id, events: events, summary: [:], summaryStart: now)
            }
            func exposure(_ key: String, at: Int64, variation: Int) -> GeneratedEvent {
                GeneratedEvent(environmentID: "env", contexts: [("user", key)], createdAt: at,
                    kind: .exposure(flag: "f", variation: variation))
            }
            func goal(_ key: String, at: Int64, cents: Int) -> GeneratedEvent {
                GeneratedEvent(environmentID: "env", contexts: [("user", key)], createdAt: at, kind: .goal(metric: "buy", cents: cents))
            }
            // early: the purchase happened a second before the exposure (and arrives first).
            // late: the purchase arrives in a later batch, from another channel, within the delay.
            let batches = [
                batch("b1", [goal("early", at: now - 2000, cents: 500), exposure("late", at: now - 3000, variation: 1)]),
                batch("b2", [exposure("early", at: now - 1000, variation: 0)]),
            ]
            let sent = ContinuousClock.now
            try await harness.send(batches)
            while try await harness.committedRecords() < 2 { try await Task.sleep(for: .milliseconds(50)) }
            // Committed but held: nothing is correlated before the delay passed (checked only when
            // the commit came well within the delay, so a slow machine cannot fail it wrongly).
            let held = try await harness.tables().exposures
            if ContinuousClock.now - sent < .seconds(3) { #expect(held.isEmpty) }
            try await Task.sleep(for: .seconds(1))
            let lateGoal = batch("b3", [goal("late", at: now - 500, cents: 1250)])
            try await harness.send([lateGoal])
            let expected = ExpectedTables(batches: batches + [lateGoal])
            #expect(expected.results["env|f|0|buy"]?.converted == 0)
            #expect(expected.results["env|f|1|buy"]?.converted == 1)
            let tables = try await harness.waitForTables(expected, timeout: .seconds(20))
            #expect(tables == expected, "\(expected.difference(from: tables))\n\(processor.logTail())")

            // A goal arriving long after its exposure was correlated still counts.
            let veryLate = batch("b4", [goal("early", at: now + 5000, cents: 100)])
            try await harness.send([veryLate, batches[0]])
            let withLate = ExpectedTables(batches: batches + [lateGoal, veryLate])
            #expect(withLate.results["env|f|0|buy"]?.converted == 1)
            let final = try await harness.waitForTables(withLate, timeout: .seconds(20))
            #expect(final == withLate, "\(withLate.difference(from: final))")
        }
    }

    @Test("iteration exposures: every exposure of a batch counts, a late-visible iteration is caught at finalization, replays are harmless")
    func iterationExposures() async throws {
        try await ProcessorHarness.with { harness in
            // management-api's experiment tables (same database), reduced to the columns events-processor reads.
            try await harness.postgres.query(
                "CREATE TABLE experiments (id uuid PRIMARY KEY, environment_id uuid NOT NULL, flag_key text NOT NULL)",
                logger: harness.logger)
            try await harness.postgres.query(
                """
                CREATE TABLE experiment_iterations (experiment_id uuid NOT NULL, number integer NOT NULL, started_at timestamptz NOT NULL,
                    stopped_at timestamptz)
                """, logger: harness.logger)
            let environmentID = UUID()
            let env = environmentID.uuidString.lowercased()
            let experimentID = UUID()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let start = now - 10_000, laterStart = now - 5_000
            try await harness.postgres.query(
                "INSERT INTO experiments VALUES (\(experimentID), \(environmentID), 'f')", logger: harness.logger)
            try await harness.postgres.query(
                "INSERT INTO experiment_iterations VALUES (\(experimentID), 1, to_timestamp(\(start) / 1000.0), NULL)",
                logger: harness.logger)
            // The delay is the time the test has to add the late iteration after the batch is counted and before it is
            // finalized: generous, since a full `make test` can keep this task waiting for seconds.
            let processor = try await harness.startProcessor(delaySeconds: 10)
            defer { processor.stopBlocking() }
            func exposure(_ key: String, at: Int64, variation: Int) -> GeneratedEvent {
                GeneratedEvent(
                    environmentID: env, contexts: [("user", key)], createdAt: at, kind: .exposure(flag: "f", variation: variation))
            }
            // One batch (one receipt hour): "a" exposed before start, then twice inside; "b" only before start; "c" only
            // after the start of an iteration whose row appears once the batch is counted (as if its start committed late).
            let batch = GeneratedBatch(
                environmentID: env, payloadID: "b1",
                events: [exposure("a", at: start - 2_000, variation: 2), exposure("a", at: start + 3_000, variation: 0),
                         exposure("a", at: start + 1_000, variation: 1), exposure("b", at: start - 1, variation: 1),
                         exposure("c", at: laterStart + 1_000, variation: 2)],
                summary: [:], summaryStart: now)
            try await harness.send([batch])
            while try await harness.committedRecords() < 1 { try await Task.sleep(for: .milliseconds(50)) }
            try await harness.postgres.query(
                "INSERT INTO experiment_iterations VALUES (\(experimentID), 2, to_timestamp(\(laterStart) / 1000.0), NULL)",
                logger: harness.logger)
            func rows() async throws -> [String] {
                var result: [String] = []
                let stored = try await harness.postgres.query(
                    """
                    SELECT iteration_start, context_key, exposed_at, variation FROM analytics.iteration_exposures
                    WHERE environment_id = \(env) AND flag_key = 'f' ORDER BY iteration_start, context_kind, context_key
                    """, logger: harness.logger)
                for try await (iteration, key, at, variation) in stored.decode((Int64, String, Int64, Int32).self) {
                    result.append("\(iteration - start) \(key) \(at - start) \(variation)")
                }
                return result
            }
            // Iteration 1: "a" with its first exposure inside (not its earlier one before start), and "c"; iteration 2: "c".
            let expected = ["0 a 1000 1", "0 c 6000 2", "5000 c 6000 2"]
            let deadline = ContinuousClock.now + .seconds(40)
            while try await rows() != expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await rows() == expected, "\(processor.logTail())")

            // The same batch again (an SDK retry), then a replay of the hour: the same rows.
            try await harness.send([batch])
            let replay = try await harness.replay(from: AnalyticsTime.format(now - 3_600_000))
            #expect(replay.status == 0, "\(replay.standardError)")
            try await Task.sleep(for: .seconds(1))
            #expect(try await rows() == expected)
        }
    }

    @Test("pruning removes raw state outside the retention without changing any total, and replays cannot reach before it")
    func pruning() async throws {
        try await ProcessorHarness.with { harness in
            let settings = ["VANE_RAW_RETENTION_HOURS": "1", "VANE_PRUNE_INTERVAL_SECONDS": "1"]
            let processor = try await harness.startProcessor(delaySeconds: 0, settings: settings)
            defer { processor.stopBlocking() }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let old = now - 5 * 3_600_000
            func event(_ key: String, _ at: Int64, _ kind: GeneratedEvent.Kind) -> GeneratedEvent {
                GeneratedEvent(environmentID: "env", contexts: [("user", key)], createdAt: at, kind: kind)
            }
            // Five and four hours ago: exposures (the first counts; the later one, received an hour
            // later, is pruned) and several purchases (compacted).
            var firstBatches: [GeneratedBatch] = []
            var secondBatches: [GeneratedBatch] = []
            for c in 0..<6 {
                firstBatches.append(GeneratedBatch(
                    environmentID: "env", payloadID: "old-\(c)",
                    events: [event("u\(c)", old - 600_000, .exposure(flag: "f", variation: c % 2)),
                             event("u\(c)", old - 550_000, .goal(metric: "buy", cents: 100 * c)),
                             event("u\(c)", old - 400_000, .goal(metric: "buy", cents: 250)),
                             event("u\(c)", old - 300_000, .goal(metric: "buy", cents: nil))],
                    summary: ["f": [(0, 3)]], summaryStart: old - 600_000))
                secondBatches.append(GeneratedBatch(
                    environmentID: "env", payloadID: "older-\(c)",
                    events: [event("u\(c)", old + 3_400_000, .exposure(flag: "f", variation: 1 - c % 2)),
                             event("u\(c)", old + 3_450_000, .goal(metric: "buy", cents: 75))],
                    summary: [:], summaryStart: old))
            }
            try await harness.send(firstBatches, receivedAt: old)
            try await harness.send(secondBatches, receivedAt: old + 3_600_000)
            let oldBatches = firstBatches + secondBatches
            // Now: more purchases by some of them, and a new context.
            let newBatches = [
                GeneratedBatch(environmentID: "env", payloadID: "new-1",
                               events: [event("u1", now - 60_000, .goal(metric: "buy", cents: 999)),
                                        event("u2", now - 60_000, .goal(metric: "signup", cents: nil)),
                                        event("u9", now - 30_000, .exposure(flag: "f", variation: 1))],
                               summary: [:], summaryStart: now)
            ]
            try await harness.send(newBatches)
            let expected = ExpectedTables(batches: oldBatches + newBatches)
            let tables = try await harness.waitForTables(expected, timeout: .seconds(20))
            #expect(tables == expected, "\(expected.difference(from: tables))\n\(processor.logTail())")

            // Pruned: old payload ids and receipts, exposures that are not a context's first, and
            // the old goals compacted into one row per context and metric.
            let deadline = ContinuousClock.now + .seconds(15)
            while try await harness.count("SELECT count(*) FROM analytics.processed_payloads") > 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await harness.count("SELECT count(*) FROM analytics.processed_payloads") == 1)
            #expect(try await harness.count(
                "SELECT count(*) FROM analytics.evaluations_by_receipt WHERE received_hour < now() - interval '2 hours'") == 0)
            #expect(try await harness.count("SELECT count(*) FROM analytics.exposures WHERE context_key LIKE 'u_'") == 7)
            #expect(try await harness.count(
                "SELECT count(*) FROM analytics.goals WHERE metric_key = 'buy' AND occurred_at < \(now - 2 * 3_600_000)") == 6)
            #expect(try await harness.tables() == expected)

            // New events for pruned contexts still correlate exactly.
            let later = [GeneratedBatch(environmentID: "env", payloadID: "new-2",
                                        events: [event("u3", now - 10_000, .goal(metric: "buy", cents: 1)),
                                                 event("u4", now - 10_000, .exposure(flag: "g", variation: 0))],
                                        summary: [:], summaryStart: now)]
            try await harness.send(later)
            let expectedLater = ExpectedTables(batches: oldBatches + newBatches + later)
            let final = try await harness.waitForTables(expectedLater, timeout: .seconds(20))
            #expect(final == expectedLater, "\(expectedLater.difference(from: final))")

            let refused = try await harness.replay(from: AnalyticsTime.format(old), settings: settings)
            #expect(refused.status != 0 && refused.standardError.contains("pruned"), "\(refused.standardError)")
        }
    }

    @Test("exposures and goals refuse pending rows: an older processor still running fails its commit instead of stranding them")
    func finalRowsOnly() async throws {
        try await ProcessorHarness.with { harness in
            let processor = try await harness.startProcessor(delaySeconds: 0)
            defer { processor.stopBlocking() }
            for isFinal in [false, true] {
                let outcome: Bool
                do {
                    try await harness.postgres.query(
                        """
                        INSERT INTO analytics.exposures (environment_id, context_kind, context_key, flag_key, received_hour, is_final,
                            exposed_at, variation, due_at)
                        VALUES ('env', 'user', 'old-processor', 'f', now(), \(isFinal), 1, 0, now())
                        """, logger: harness.logger)
                    outcome = true
                } catch {
                    outcome = false
                }
                #expect(outcome == isFinal, "is_final = \(isFinal)")
            }
            await #expect(throws: (any Error).self) {
                try await harness.postgres.query(
                    """
                    INSERT INTO analytics.goals (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour,
                        is_final, events, value_sum, value_sum_squares, due_at)
                    VALUES ('env', 'user', 'old-processor', 'm', 1, now(), false, 1, 0, 0, now())
                    """, logger: harness.logger)
            }
        }
    }

    @Test("history probes are skipped only for contexts that cannot have final rows, even when someone else writes final rows")
    func finalizedContextsFilter() async throws {
        try await ProcessorHarness.with { harness in
            let processor = try await harness.startProcessor(delaySeconds: 0)
            defer { processor.stopBlocking() }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            func exposure(_ id: String, _ key: String, at: Int64, variation: Int) -> GeneratedBatch {
                GeneratedBatch(environmentID: "env", payloadID: id, events: [
                    GeneratedEvent(environmentID: "env", contexts: [("user", key)], createdAt: at, kind: .exposure(flag: "f", variation: variation)),
                ], summary: [:], summaryStart: now)
            }
            func metric(_ name: String) async throws -> Int {
                let text = try await TestHTTP.request("GET", "\(processor.baseURL)/metrics").text
                let line = text.split(separator: "\n").first { $0.hasPrefix("vane_processor_\(name)_total ") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            }
            // New contexts until one is correlated without a probe: the filter was built and is in use.
            var sent: [GeneratedBatch] = []
            for index in 0..<20 {
                sent.append(exposure("new-\(index)", "new-\(index)", at: now - 1000, variation: 0))
                try await harness.send([sent.last!], receivedAt: now)
                _ = try await harness.waitForTables(ExpectedTables(batches: sent), timeout: .seconds(20))
                if try await metric("finalization_probed_contexts") < metric("finalized_contexts") { break }
            }
            #expect(try await metric("finalization_probed_contexts") < metric("finalized_contexts"), "\(processor.logTail())")

            // Another writer gives a context the filter never saw a final row (an operator's repair, an older processor).
            // Its next exposure of the same hour must merge into that row: correlated as new, it would violate the
            // primary key, and its round would fail again and again.
            try await harness.postgres.query(
                """
                INSERT INTO analytics.exposures (environment_id, context_kind, context_key, flag_key, received_hour, is_final,
                    exposed_at, variation, due_at)
                VALUES ('env', 'user', 'written-elsewhere', 'f', date_trunc('hour', to_timestamp(\(now) / 1000.0)), true,
                    \(now - 5000), 1, now())
                """, logger: harness.logger)
            try await harness.send([exposure("elsewhere", "written-elsewhere", at: now - 1000, variation: 0)], receivedAt: now)
            // Committed (so pending until correlated), then correlated.
            let deadline = ContinuousClock.now + .seconds(20)
            while try await metric("finalized_contexts") < sent.count + 1, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await metric("finalized_contexts") == sent.count + 1, "\(processor.logTail())")
            #expect(try await harness.committedRecords() == Int64(sent.count + 1))
            #expect(try await harness.count("SELECT count(*) FROM analytics.pending_exposures") == 0)
            #expect(try await harness.count(
                "SELECT count(*) FROM analytics.exposures WHERE context_key = 'written-elsewhere' AND exposed_at = \(now - 5000)") == 1)
            #expect(try await harness.count("SELECT count(*) FROM analytics.exposures WHERE context_key = 'written-elsewhere'") == 1)
        }
    }

    @Test("malformed records and events are skipped without blocking the partition")
    func malformedInput() async throws {
        try await ProcessorHarness.with { harness in
            let processor = try await harness.startProcessor(delaySeconds: 0)
            defer { processor.stopBlocking() }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let good = GeneratedBatch(
                environmentID: "env", payloadID: "ok",
                events: [GeneratedEvent(environmentID: "env", contexts: [("user", "u")], createdAt: now,
                    kind: .exposure(flag: "f", variation: 0))],
                summary: [:], summaryStart: now)
            let weirdEvents = EventsRecord.encode(
                environmentID: "env", payloadID: "weird", receivedAt: Int(now), source: .client, userAgent: "x",
                rawEvents: Array(#"[1,null,{"kind":"feature","key":7},{"kind":"custom"},{"kind":"summary","features":[]}]"#.utf8))
            try await harness.sendRaw(environmentID: "env", [Array("not json".utf8), Array(#"{"environmentId":"env"}"#.utf8), weirdEvents])
            try await harness.send([good])
            let expected = ExpectedTables(batches: [good])
            let tables = try await harness.waitForTables(expected, timeout: .seconds(20))
            #expect(tables == expected, "\(expected.difference(from: tables))\n\(processor.logTail())")
            let metrics = try await TestHTTP.request("GET", "\(processor.baseURL)/metrics")
            #expect(metrics.text.contains("vane_processor_malformed_records_total 2"))
            #expect(metrics.text.contains("vane_processor_malformed_events_total 5"))
        }
    }
}

/// RFC 3339 formatting for the replay command.
enum AnalyticsTime {
    static func format(_ milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
