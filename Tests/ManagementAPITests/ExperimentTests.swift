import ExperimentStats
import Foundation
import ModelsCore
import Testing
import TestSupport

/// The experiments resource against a running management-api and real PostgreSQL: validation, roles, audit,
/// iterations, and results computed from correlation state written into the `analytics` schema (created by a real
/// events-processor) and compared with the definitions and ExperimentStats.
@Suite("management-api: experiments", .serialized, .timeLimit(.minutes(4)))
struct ExperimentTests {
    static let body = #"""
        {"key":"checkout-test","name":"Checkout test","flagKey":"checkout","environmentKey":"production","controlVariation":0,
         "metrics":[{"key":"purchase","type":"proportion"},{"key":"revenue","type":"mean"}],"trafficWeights":[0.5,0.25,0.25]}
        """#

    /// A copy of `body` with `field` replaced by `value` (raw JSON).
    static func replacing(_ field: String, with value: String) throws -> String {
        guard case .object(var object) = try JSONParser.parse(Array(body.utf8)) else { return body }
        object[field] = try JSONParser.parse(Array(value.utf8))
        return JSONWriter.string(.object(object))
    }

    @Test("create, validate (422 naming the field), roles, patch, start/stop, iterations, audit, delete")
    func lifecycle() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            try await api.expect(201, "POST", "/projects/shop/flags",
                                 #"{"key":"checkout","name":"Checkout","variations":[{"value":"a"},{"value":"b"},{"value":"c"}]}"#)
            try await api.expect(201, "POST", "/projects/shop/flags", #"{"key":"single","name":"Single","variations":[{"value":1}]}"#)

            let cases: [(String, String, String)] = [
                ("flagKey", #""nope""#, "flagKey"), ("flagKey", #""single""#, "flagKey"), ("environmentKey", #""nope""#, "environmentKey"),
                ("controlVariation", "3", "controlVariation"), ("controlVariation", "0.5", "controlVariation"),
                ("metrics", #"[{"key":"m","type":"median"}]"#, "metrics[0].type"), ("metrics", "[]", "metrics"),
                ("metrics", #"[{"type":"mean"}]"#, "metrics[0].key"), ("trafficWeights", "[1,1]", "trafficWeights"),
                ("trafficWeights", "[1,-1,1]", "trafficWeights[1]"), ("key", #""a b""#, "key"), ("name", "null", "name"),
            ]
            for (field, value, path) in cases {
                let problem = try await api.expect(422, "POST", "/projects/shop/experiments", try Self.replacing(field, with: value))
                let paths = problem["details"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
                #expect(paths.contains(path), "\(field)=\(value): \(problem)")
            }
            try await api.expect(404, "POST", "/projects/nope/experiments", Self.body)

            let reader = try await api.token("reader")
            try await api.expect(403, "POST", "/projects/shop/experiments", Self.body, token: reader)
            let created = try await api.expect(201, "POST", "/projects/shop/experiments", Self.body)
            #expect(created["status"] == "draft" && created["iteration"] == .null && created["controlVariation"] == 0)
            #expect(created["metrics"]?[1]?["higherIsBetter"] == true && created["trafficWeights"]?[2] == 0.25)
            try await api.expect(409, "POST", "/projects/shop/experiments", Self.body)
            #expect(try await api.expect(200, "GET", "/projects/shop/experiments", token: reader)["items"]?.arrayValue?.count == 1)
            #expect(try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test", token: reader)["flagKey"] == "checkout")
            try await api.expect(404, "GET", "/projects/shop/experiments/nope")
            try await api.expect(404, "GET", "/projects/shop/experiments/checkout-test/results")

            try await api.expect(403, "PATCH", "/projects/shop/experiments/checkout-test", #"{"name":"X"}"#, token: reader)
            try await api.expect(422, "PATCH", "/projects/shop/experiments/checkout-test", #"{"flagKey":"other"}"#)
            try await api.expect(422, "PATCH", "/projects/shop/experiments/checkout-test", #"{"trafficWeights":[1]}"#)
            let patched = try await api.expect(200, "PATCH", "/projects/shop/experiments/checkout-test",
                                               #"{"name":"Renamed","description":"why","trafficWeights":[2,1,1]}"#)
            #expect(patched["name"] == "Renamed" && patched["description"] == "why" && patched["trafficWeights"]?[0] == 2)

            try await api.expect(403, "POST", "/projects/shop/experiments/checkout-test/start", token: reader)
            let first = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            #expect(first["number"] == 1 && first["stop"] == .null && first["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds) != nil)
            try await api.expect(409, "POST", "/projects/shop/experiments/checkout-test/start")
            try await api.expect(409, "PATCH", "/projects/shop/experiments/checkout-test", #"{"metrics":[{"key":"x","type":"mean"}]}"#)
            try await api.expect(200, "PATCH", "/projects/shop/experiments/checkout-test", #"{"name":"Running"}"#)
            #expect(try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test")["status"] == "running")
            let stopped = try await api.expect(200, "POST", "/projects/shop/experiments/checkout-test/stop")
            #expect(stopped["number"] == 1 && stopped["stop"]?.stringValue != nil)
            try await api.expect(409, "POST", "/projects/shop/experiments/checkout-test/stop")
            #expect(try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test")["status"] == "stopped")
            let second = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            #expect(second["number"] == 2)
            let iterations = try #require(try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test/iterations",
                                                               token: reader)["items"]?.arrayValue)
            #expect(iterations.map { $0["number"] } == [1, 2])
            #expect(iterations[0]["stop"] == stopped["stop"] && iterations[1]["stop"] == .null)
            let stopOne = try #require(iterations[0]["stop"]?.stringValue.flatMap(rfc3339UnixMilliseconds))
            let startTwo = try #require(iterations[1]["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds))
            #expect(startTwo >= stopOne)

            try await api.expect(204, "DELETE", "/projects/shop/experiments/checkout-test")
            try await api.expect(404, "GET", "/projects/shop/experiments/checkout-test")
            let audit = try await api.expect(200, "GET", "/audit?resource=proj/shop:experiment/checkout-test")
            #expect(audit["items"]?.arrayValue?.compactMap { $0["action"]?.stringValue } == [
                "experiment.delete", "experiment.start", "experiment.stop", "experiment.update", "experiment.start",
                "experiment.update", "experiment.create",
            ])
        }
    }

    @Test("results: exact per-variation sums over the iteration window, SRM and comparisons from ExperimentStats")
    func results() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            let project = try await api.expect(200, "GET", "/projects/shop")
            let environments = try #require(project["environments"]?.arrayValue)
            let production = try #require(environments.first { $0["key"] == "production" }?["id"]?.stringValue).lowercased()
            let test = try #require(environments.first { $0["key"] == "test" }?["id"]?.stringValue).lowercased()
            try await api.expect(201, "POST", "/projects/shop/flags",
                                 #"{"key":"checkout","name":"Checkout","variations":[{"value":"a"},{"value":"b"},{"value":"c"}]}"#)
            try await api.expect(201, "POST", "/projects/shop/experiments", Self.body)
            let reader = try await api.token("reader")

            // Before events-processor ever ran (no analytics schema): every variation, nobody in it.
            let started = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            let empty = try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test/results", token: reader)
            #expect(empty["iteration"]?["number"] == 1 && empty["iteration"]?["stop"] == .null)
            #expect(empty["metrics"]?[0]?["variations"]?.arrayValue?.map { $0["n"] } == [0, 0, 0])
            #expect(empty["metrics"]?[0]?["srmPValue"] == 1)
            // The window needs some width: exposures are placed inside it below.
            try await Task.sleep(for: .milliseconds(400))
            let stopped = try await api.expect(200, "POST", "/projects/shop/experiments/checkout-test/stop")
            let start = Int64(try #require(started["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))
            let stop = Int64(try #require(stopped["stop"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))
            #expect(stop - start >= 400)

            // A real events-processor creates the analytics schema; the state is then written as it keeps it.
            let processor = try ServiceProcess("events-processor", environment: [
                "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
            ])
            try await processor.waitUntilReady()
            #expect(await processor.stop() == 0)

            var generator = SplitMix64(seed: 11)
            var data = CorrelationData.random(
                environments: [production, test], flags: ["checkout", "other"], start: start, stop: stop, contexts: 400,
                using: &generator)
            let boundaries = CorrelationData.boundaries(environment: production, flag: "checkout", start: start, stop: stop)
            data.exposures += boundaries.exposures
            data.goals += boundaries.goals
            try await Self.psql(api.stack.databaseURL, data.sql)

            let results = try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test/results?iteration=1", token: reader)
            #expect(results["experiment"] == "checkout-test" && results["iteration"]?["number"] == 1)
            #expect(results["iteration"]?["stop"] == stopped["stop"] && results["updatedAt"]?.stringValue != nil)
            let expected = data.expected(environment: production, flag: "checkout", start: start, stop: stop)
            // The boundary contexts as the definitions place them (a check of the expectation itself).
            let alone = boundaries.expected(environment: production, flag: "checkout", start: start, stop: stop)
            #expect(alone.exposed == [1: 2, 0: 2])
            #expect(alone.values["revenue"]?[1]?.sorted() == [10, 12.34] && alone.values["revenue"]?[0] == [9.99])
            #expect(alone.values["purchase"]?[1] == [0] && alone.values["purchase"]?[0] == [0])
            #expect(expected.exposed.values.reduce(0, +) > 100, "the generated data should put many contexts in the window")
            try Self.check(results, against: expected, weights: [0.5, 0.25, 0.25])
            // The last iteration is the default.
            var latest = try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test/results")
            var pinned = results
            for (index, value) in [latest, pinned].enumerated() {
                guard case .object(var object) = value else { continue }
                object["updatedAt"] = nil
                if index == 0 { latest = .object(object) } else { pinned = .object(object) }
            }
            #expect(latest == pinned)

            // A second iteration counts its own window only (contexts may be in both, by their exposures in each).
            let second = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            let secondStart = Int64(try #require(second["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))
            let later = CorrelationData.random(
                environments: [production], flags: ["checkout"], start: secondStart, stop: secondStart + 10_000, contexts: 60,
                hourOffset: 100, using: &generator)
            try await Self.psql(api.stack.databaseURL, later.sql)
            let current = try await api.expect(200, "GET", "/projects/shop/experiments/checkout-test/results")
            #expect(current["iteration"]?["number"] == 2 && current["iteration"]?["stop"] == .null)
            var combined = data
            combined.exposures += later.exposures
            combined.goals += later.goals
            try Self.check(current, against: combined.expected(environment: production, flag: "checkout", start: secondStart, stop: .max),
                           weights: [0.5, 0.25, 0.25])
            try await api.expect(404, "GET", "/projects/shop/experiments/checkout-test/results?iteration=3")
            try await api.expect(422, "GET", "/projects/shop/experiments/checkout-test/results?iteration=zero")
        }
    }

    /// Compares a results response with the expected sums and ExperimentStats' numbers for them.
    static func check(_ results: JSONValue, against expected: CorrelationData.Expected, weights: [Double],
                      sourceLocation: SourceLocation = #_sourceLocation) throws
    {
        let metrics = try #require(results["metrics"]?.arrayValue, sourceLocation: sourceLocation)
        #expect(metrics.map { $0["key"] } == ["purchase", "revenue"], sourceLocation: sourceLocation)
        for (metric, type) in zip(metrics, [MetricType.proportion, .mean]) {
            let key = try #require(metric["key"]?.stringValue)
            let statistics = (0..<3).map { variation -> SufficientStatistics in
                let n = Double(expected.exposed[variation] ?? 0)
                let values = expected.values[key]?[variation] ?? []
                if type == .proportion { return .proportion(n: n, converted: Double(values.count)) }
                return SufficientStatistics(n: n, sum: values.reduce(0, +), sumSquares: values.map { $0 * $0 }.reduce(0, +))
            }
            let analysis = ExperimentAnalysis.analyze(type: type, variations: statistics, weights: weights, settings: AnalysisSettings())
            let variations = try #require(metric["variations"]?.arrayValue)
            #expect(variations.map { $0["variation"] } == [0, 1, 2], sourceLocation: sourceLocation)
            #expect(close(metric["srmPValue"]?.numberValue, analysis.srmPValue), "\(key) SRM", sourceLocation: sourceLocation)
            for (actual, wanted) in zip(variations, analysis.variations) {
                let label = "\(key) variation \(wanted.variation)"
                #expect(actual["n"]?.numberValue == wanted.statistics.n, "\(label) n", sourceLocation: sourceLocation)
                #expect(close(actual["sum"]?.numberValue, wanted.statistics.sum), "\(label) sum", sourceLocation: sourceLocation)
                #expect(close(actual["sumSquares"]?.numberValue, wanted.statistics.sumSquares), "\(label) sumSquares",
                        sourceLocation: sourceLocation)
                #expect(close(actual["relativeLift"]?.numberValue, wanted.relativeLift), "\(label) lift", sourceLocation: sourceLocation)
                #expect(close(actual["frequentist"]?["pValue"]?.numberValue, wanted.frequentist?.pValue), "\(label) p",
                        sourceLocation: sourceLocation)
                #expect(close(actual["frequentist"]?["ci"]?[0]?.numberValue, wanted.frequentist?.ci.lower), "\(label) ci",
                        sourceLocation: sourceLocation)
                #expect(close(actual["sequential"]?["ci"]?[1]?.numberValue, wanted.sequential?.ci.upper), "\(label) sequential",
                        sourceLocation: sourceLocation)
                #expect(close(actual["bayesian"]?["chanceToWin"]?.numberValue, wanted.bayesian?.chanceToWin), "\(label) bayesian",
                        sourceLocation: sourceLocation)
            }
        }
    }

    /// Equal within 1e-9 relative (the database sums exact decimals, the expectation sums doubles); nil only with nil.
    static func close(_ actual: Double?, _ expected: Double?) -> Bool {
        guard let actual, let expected else { return actual == nil && expected == nil }
        return abs(actual - expected) <= 1e-9 * max(1, abs(expected))
    }

    static func psql(_ databaseURL: String, _ sql: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-experiment-\(UUID().uuidString).sql")
        try sql.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await ChildProcess.run(
            PostgresServer.binary("psql"), [databaseURL, "-v", "ON_ERROR_STOP=1", "-q", "-f", file.path])
        guard result.status == 0 else { throw ChildProcess.LaunchError(description: "psql: \(result.standardError)") }
    }
}

/// Correlation state as events-processor keeps it (`analytics.exposures`, `analytics.goals`, and from them
/// `analytics.iteration_exposures`), generated at random
/// around an iteration window, with the expected results computed from the definitions in docs/experiments.md.
struct CorrelationData {
    struct Exposure {
        var environment: String, kind: String, key: String, flag: String, at: Int64, variation: Int, hour: Int, isFinal: Bool
    }

    struct Goal {
        var environment: String, kind: String, key: String, metric: String, at: Int64, hour: Int, isFinal: Bool, events: Int
        /// In cents: values are exact decimals with two digits.
        var cents: Int
    }

    struct Expected {
        var exposed: [Int: Int] = [:]
        /// metric → variation → the values of the contexts with at least one counted event.
        var values: [String: [Int: [Double]]] = [:]
    }

    var exposures: [Exposure] = []
    var goals: [Goal] = []

    static func random(
        environments: [String], flags: [String], start: Int64, stop: Int64, contexts: Int, hourOffset: Int = 0,
        using generator: inout SplitMix64
    ) -> CorrelationData {
        var data = CorrelationData()
        let width = stop - start
        for index in 0..<contexts {
            let kind = index % 5 == 0 ? "org" : "user"
            let key = "c\(index % 300)"  // some keys under both kinds: separate units
            for environment in environments {
                for flag in flags {
                    // Exposures in distinct receipt hours: before, inside and after the window.
                    for hour in 0..<Int.random(in: 1...3, using: &generator) {
                        let at: Int64
                        switch Int.random(in: 0..<10, using: &generator) {
                        case 0...1: at = start - Int64.random(in: 1...50_000, using: &generator)
                        case 2: at = stop + Int64.random(in: 0...50_000, using: &generator)
                        case 3: at = start
                        default: at = start + Int64.random(in: 0..<width, using: &generator)
                        }
                        data.exposures.append(Exposure(
                            environment: environment, kind: kind, key: key, flag: flag, at: at,
                            variation: Int.random(in: 0..<3, using: &generator), hour: hourOffset + hour,
                            isFinal: Bool.random(using: &generator)))
                    }
                }
                for metric in ["purchase", "revenue", "unrelated"] {
                    var instants: Set<Int64> = []
                    for _ in 0..<Int.random(in: 0...3, using: &generator) {
                        let at = start + Int64.random(in: -20_000...(width + 20_000), using: &generator)
                        guard instants.insert(at).inserted else { continue }
                        data.goals.append(Goal(
                            environment: environment, kind: kind, key: key, metric: metric, at: at, hour: hourOffset,
                            isFinal: Bool.random(using: &generator), events: Int.random(in: 1...3, using: &generator),
                            cents: Int.random(in: 0...50_000, using: &generator)))
                    }
                }
            }
        }
        // One row per primary key, as the processor merges them.
        var seenExposures: Set<String> = []
        data.exposures = data.exposures.filter {
            seenExposures.insert("\($0.environment)|\($0.kind)|\($0.key)|\($0.flag)|\($0.hour)|\($0.isFinal)").inserted
        }
        var seenGoals: Set<String> = []
        data.goals = data.goals.filter {
            seenGoals.insert("\($0.environment)|\($0.kind)|\($0.key)|\($0.metric)|\($0.at)|\($0.hour)|\($0.isFinal)").inserted
        }
        return data
    }

    /// Hand-made contexts on every boundary of the definitions (random data rarely hits an exact instant).
    static func boundaries(environment: String, flag: String, start: Int64, stop: Int64) -> CorrelationData {
        var data = CorrelationData()
        func expose(_ key: String, _ at: Int64, _ variation: Int, hour: Int, final: Bool = true) {
            data.exposures.append(Exposure(
                environment: environment, kind: "device", key: key, flag: flag, at: at, variation: variation, hour: 50 + hour,
                isFinal: final))
        }
        func goal(_ key: String, _ metric: String, _ at: Int64, cents: Int, final: Bool = true) {
            data.goals.append(Goal(
                environment: environment, kind: "device", key: key, metric: metric, at: at, hour: 50, isFinal: final, events: 1,
                cents: cents))
        }
        // Exposed exactly at start; a goal at the exposure instant counts, one just before does not.
        expose("at-start", start, 1, hour: 0)
        goal("at-start", "revenue", start, cents: 1_234)
        goal("at-start", "revenue", start - 1, cents: 100_000)
        goal("at-start", "purchase", start, cents: 0)
        // Exposed before start only: not in the iteration, whatever it sends.
        expose("before", start - 1, 2, hour: 0)
        goal("before", "purchase", start + 10, cents: 0)
        // Before start in one hour, inside in a later one: in the iteration with the later exposure's variation;
        // goals between the two exposures do not count.
        expose("twice", start - 5_000, 2, hour: 0)
        expose("twice", start + 20, 1, hour: 1, final: false)
        goal("twice", "revenue", start + 10, cents: 50_000)
        goal("twice", "revenue", start + 20, cents: 700, final: false)
        goal("twice", "revenue", start + 20, cents: 300)  // the same instant, pending and final: both count
        // Two exposures at the same instant: the smaller variation index wins.
        expose("tie", start + 30, 2, hour: 0)
        expose("tie", start + 30, 0, hour: 1)
        goal("tie", "purchase", start + 31, cents: 0)
        // The last instant of the window counts, stop does not.
        expose("at-stop", stop, 0, hour: 0)
        goal("at-stop", "purchase", stop, cents: 0)
        expose("last", stop - 1, 0, hour: 0)
        goal("last", "revenue", stop - 1, cents: 999)
        goal("last", "revenue", stop, cents: 88_800)
        return data
    }

    static func decimal(_ cents: Int) -> String { "\(cents / 100).\(String(format: "%02d", cents % 100))" }

    var sql: String {
        var lines = ["BEGIN;"]
        // Pending exposures and goals have tables of their own (analytics migration 4).
        for e in exposures {
            lines.append(
                e.isFinal
                    ? """
                    INSERT INTO analytics.exposures VALUES ('\(e.environment)', '\(e.kind)', '\(e.key)', '\(e.flag)',
                        to_timestamp(\(e.hour) * 3600), true, \(e.at), \(e.variation), now());
                    """
                    : """
                    INSERT INTO analytics.pending_exposures VALUES ('\(e.environment)', '\(e.kind)', '\(e.key)', '\(e.flag)',
                        to_timestamp(\(e.hour) * 3600), \(e.at), \(e.variation), now());
                    """)
        }
        for g in goals {
            let value = Self.decimal(g.cents)
            lines.append(
                g.isFinal
                    ? """
                    INSERT INTO analytics.goals VALUES ('\(g.environment)', '\(g.kind)', '\(g.key)', '\(g.metric)', \(g.at),
                        to_timestamp(\(g.hour) * 3600), true, \(g.events), \(value), \(value) * \(value), now());
                    """
                    : """
                    INSERT INTO analytics.pending_goals VALUES ('\(g.environment)', '\(g.kind)', '\(g.key)', '\(g.metric)', \(g.at),
                        to_timestamp(\(g.hour) * 3600), \(g.events), \(value), \(value) * \(value), now());
                    """)
        }
        // What events-processor derives from these exposures for every iteration (IterationExposures): each context's
        // first exposure in the window, kept as a minimum (so running this again for more exposures is the same).
        lines.append(
            """
            INSERT INTO analytics.iteration_exposures AS x
                (environment_id, flag_key, iteration_start, context_kind, context_key, exposed_at, variation)
            SELECT DISTINCT ON (w.e, w.f, w.s, x.context_kind, x.context_key)
                   w.e, w.f, w.s, x.context_kind, x.context_key, x.exposed_at, x.variation
            FROM (SELECT e.environment_id::text AS e, e.flag_key AS f, (extract(epoch FROM i.started_at) * 1000)::bigint AS s,
                         (extract(epoch FROM i.stopped_at) * 1000)::bigint AS p
                  FROM experiments e JOIN experiment_iterations i ON i.experiment_id = e.id) w
            JOIN (SELECT environment_id, flag_key, context_kind, context_key, exposed_at, variation FROM analytics.exposures
                  UNION ALL
                  SELECT environment_id, flag_key, context_kind, context_key, exposed_at, variation FROM analytics.pending_exposures) x
              ON x.environment_id = w.e AND x.flag_key = w.f
             AND x.exposed_at >= w.s AND (w.p IS NULL OR x.exposed_at < w.p)
            ORDER BY w.e, w.f, w.s, x.context_kind, x.context_key, x.exposed_at, x.variation
            ON CONFLICT (environment_id, flag_key, iteration_start, context_kind, context_key) DO UPDATE SET
                exposed_at = least(x.exposed_at, EXCLUDED.exposed_at),
                variation = CASE WHEN (EXCLUDED.exposed_at, EXCLUDED.variation) < (x.exposed_at, x.variation)
                                 THEN EXCLUDED.variation ELSE x.variation END;
            """)
        lines.append("COMMIT;")
        return lines.joined(separator: "\n")
    }

    /// The definitions, applied naively: a context is in the window with the variation of its first exposure in
    /// [start, stop); its value sums the goal events at or after that exposure and before stop.
    func expected(environment: String, flag: String, start: Int64, stop: Int64) -> Expected {
        var first: [String: (at: Int64, variation: Int)] = [:]
        for e in exposures where e.environment == environment && e.flag == flag && e.at >= start && e.at < stop {
            let unit = "\(e.kind)|\(e.key)"
            if let current = first[unit], (current.at, current.variation) <= (e.at, e.variation) { continue }
            first[unit] = (e.at, e.variation)
        }
        var result = Expected()
        for exposure in first.values { result.exposed[exposure.variation, default: 0] += 1 }
        var values: [String: [String: Double]] = [:]  // metric → unit → value
        for g in goals where g.environment == environment {
            let unit = "\(g.kind)|\(g.key)"
            guard let exposure = first[unit], g.at >= exposure.at, g.at < stop else { continue }
            values[g.metric, default: [:]][unit, default: 0] += Double(g.cents) / 100
        }
        for (metric, units) in values {
            for (unit, value) in units {
                result.values[metric, default: [:]][first[unit]!.variation, default: []].append(value)
            }
        }
        return result
    }
}

/// A small seeded generator: the same data on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
        z = (z ^ (z >> 27)) &* 0x94D8_4EB9_2CE3_3111
        return z ^ (z >> 31)
    }
}
