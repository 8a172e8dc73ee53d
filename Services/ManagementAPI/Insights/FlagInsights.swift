import Foundation
import Hummingbird
import Logging
import ModelsCore
import PostgresNIO
import ServiceKit

/// Evaluations of one flag in one environment, per UTC day and variation (`GET …/flags/{f}/insights`).
struct FlagInsights: Codable, Sendable, Equatable {
    struct Day: Codable, Sendable, Equatable {
        /// `YYYY-MM-DD` (UTC).
        var date: String
        var total: Int64
        /// Variations with evaluations that day, by index; -1 counts evaluations that served the SDK's default.
        var variations: [VariationCount]
    }

    struct VariationCount: Codable, Sendable, Equatable {
        var variation: Int
        var evaluations: Int64
    }

    var flag: String
    var environment: String
    var days: Int
    /// The start of the first day shown.
    var from: String
    var lastEvaluatedAt: String?
    /// One entry per day, oldest first, days without evaluations included.
    var daily: [Day]

    private enum CodingKeys: String, CodingKey { case flag, environment, days, from, lastEvaluatedAt, daily }

    init(flag: String, environment: String, days: Int, from: String, lastEvaluatedAt: String?, daily: [Day]) {
        self.flag = flag
        self.environment = environment
        self.days = days
        self.from = from
        self.lastEvaluatedAt = lastEvaluatedAt
        self.daily = daily
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(flag, forKey: .flag)
        try container.encode(environment, forKey: .environment)
        try container.encode(days, forKey: .days)
        try container.encode(from, forKey: .from)
        try container.encode(lastEvaluatedAt, forKey: .lastEvaluatedAt)  // an explicit null: never evaluated
        try container.encode(daily, forKey: .daily)
    }
}

/// Why a flag is listed as stale in an environment (`GET …/flags?environment=E&stale=true`).
struct Staleness: Codable, Sendable, Equatable {
    enum Reason: String, Codable, Sendable {
        /// No SDK has ever reported an evaluation.
        case neverEvaluated
        /// The last evaluation is older than the stale period.
        case notEvaluatedRecently
        /// Every evaluation of the stale period served the same variation.
        case singleVariation
    }

    var reason: Reason
    var lastEvaluatedAt: String?
    /// For `singleVariation`: the variation served (-1: the SDK's default, the flag was missing or off without
    /// an off variation).
    var variation: Int?

    private enum CodingKeys: String, CodingKey { case reason, lastEvaluatedAt, variation }

    init(reason: Reason, lastEvaluatedAt: String?, variation: Int?) {
        self.reason = reason
        self.lastEvaluatedAt = lastEvaluatedAt
        self.variation = variation
    }

    /// `lastEvaluatedAt` is always present (null: never); `variation` only for `singleVariation`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reason, forKey: .reason)
        try container.encode(lastEvaluatedAt, forKey: .lastEvaluatedAt)
        try container.encodeIfPresent(variation, forKey: .variation)
    }

    /// The staleness of a flag from its last evaluation and the variations it served in the stale period; nil when
    /// it is not stale. Pure: `lastEvaluatedAt`/`periodStart` are Unix milliseconds.
    static func classify(
        lastEvaluatedAt: Int64?, lastEvaluatedText: String?, variationsInPeriod: Set<Int>, periodStart: Int64
    ) -> Staleness? {
        guard let lastEvaluatedAt else { return Staleness(reason: .neverEvaluated, lastEvaluatedAt: nil, variation: nil) }
        if lastEvaluatedAt < periodStart {
            return Staleness(reason: .notEvaluatedRecently, lastEvaluatedAt: lastEvaluatedText, variation: nil)
        }
        if variationsInPeriod.count == 1, let only = variationsInPeriod.first {
            return Staleness(reason: .singleVariation, lastEvaluatedAt: lastEvaluatedText, variation: only)
        }
        return nil
    }
}

/// Limits of the insights endpoints (documented in docs/api.md).
enum InsightsLimits {
    static let days = 1...365
    static let defaultDays = 30
}

extension ManagementStore {
    /// Whether events-processor has created the analytics tables (it has not run yet otherwise).
    private func analyticsExists(_ connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT to_regclass('analytics.evaluations_hourly') IS NOT NULL AND to_regclass('analytics.flag_last_evaluated') IS NOT NULL
            """, logger: logger)
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }

    /// A flag's evaluations per day and variation over the last `days` UTC days (today included).
    func insights(projectKey: String, flagKey: String, environmentKey: String, days: Int) async throws -> FlagInsights {
        try await client.withConnection { connection in
            _ = try await flag(projectKey: projectKey, key: flagKey, connection: connection)
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            let environmentID = environment.id.uuidString.lowercased()
            var fromText = ""
            var dates: [String] = []
            let calendar = try await connection.query(
                """
                SELECT to_char(d, 'YYYY-MM-DD'), to_char(first_value(d) OVER (ORDER BY d), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') - (\(days - 1) * interval '1 day'),
                                     date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS d
                ORDER BY d
                """, logger: logger)
            for try await (date, from) in calendar.decode((String, String).self) {
                dates.append(date)
                fromText = from
            }
            var counts: [String: [Int: Int64]] = [:]
            var lastEvaluatedAt: String?
            if try await analyticsExists(connection) {
                let rows = try await connection.query(
                    """
                    SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD'), variation, sum(evaluations)::bigint
                    FROM analytics.evaluations_hourly
                    WHERE environment_id = \(environmentID) AND flag_key = \(flagKey)
                      AND hour >= (date_trunc('day', now() AT TIME ZONE 'UTC') - (\(days - 1) * interval '1 day')) AT TIME ZONE 'UTC'
                    GROUP BY 1, 2
                    """, logger: logger)
                for try await (date, variation, evaluations) in rows.decode((String, Int, Int64).self) {
                    counts[date, default: [:]][variation] = evaluations
                }
                let last = try await connection.query(
                    """
                    SELECT \(unescaped: SQL.timestamp("last_evaluated_at")) FROM analytics.flag_last_evaluated
                    WHERE environment_id = \(environmentID) AND flag_key = \(flagKey)
                    """, logger: logger)
                for try await text in last.decode(String.self) { lastEvaluatedAt = text }
            }
            let daily = dates.map { date in
                let variations = (counts[date] ?? [:]).sorted { $0.key < $1.key }
                    .map { FlagInsights.VariationCount(variation: $0.key, evaluations: $0.value) }
                return FlagInsights.Day(date: date, total: variations.reduce(0) { $0 + $1.evaluations }, variations: variations)
            }
            return FlagInsights(
                flag: flagKey, environment: environmentKey, days: days, from: fromText, lastEvaluatedAt: lastEvaluatedAt, daily: daily)
        }
    }

    /// The staleness of every flag of the project in one environment (flags that are not stale are absent).
    func staleness(projectKey: String, environmentKey: String, staleDays: Int) async throws -> [String: Staleness] {
        try await evaluationSummary(projectKey: projectKey, environmentKey: environmentKey, staleDays: staleDays)
            .compactMapValues(\.stale)
    }

    /// Every flag of the project in one environment: when it was last evaluated and its staleness (nil: not stale).
    func evaluationSummary(
        projectKey: String, environmentKey: String, staleDays: Int
    ) async throws -> [String: (lastEvaluatedAt: String?, stale: Staleness?)] {
        try await client.withConnection { connection in
            let environment = try await environmentRow(projectKey: projectKey, key: environmentKey, lock: false, connection: connection)
            let environmentID = environment.id.uuidString.lowercased()
            var flags: [String] = []
            let keys = try await connection.query(
                "SELECT key FROM flags WHERE project_id = \(environment.projectID)", logger: logger)
            for try await key in keys.decode(String.self) { flags.append(key) }
            var periodStart: Int64 = 0
            let now = try await connection.query(
                "SELECT (extract(epoch FROM now() - \(staleDays) * interval '1 day') * 1000)::bigint", logger: logger)
            for try await value in now.decode(Int64.self) { periodStart = value }

            var last: [String: (Int64, String)] = [:]
            var served: [String: Set<Int>] = [:]
            if try await analyticsExists(connection) {
                let rows = try await connection.query(
                    """
                    SELECT flag_key, (extract(epoch FROM last_evaluated_at) * 1000)::bigint,
                           \(unescaped: SQL.timestamp("last_evaluated_at"))
                    FROM analytics.flag_last_evaluated WHERE environment_id = \(environmentID) AND flag_key = ANY(\(flags))
                    """, logger: logger)
                for try await (flag, millis, text) in rows.decode((String, Int64, String).self) { last[flag] = (millis, text) }
                // Hours that started within the period (the hour in progress at its start is left out).
                let variations = try await connection.query(
                    """
                    SELECT DISTINCT flag_key, variation FROM analytics.evaluations_hourly
                    WHERE environment_id = \(environmentID) AND flag_key = ANY(\(flags)) AND evaluations > 0
                      AND hour >= to_timestamp(\(periodStart) / 1000.0)
                    """, logger: logger)
                for try await (flag, variation) in variations.decode((String, Int).self) { served[flag, default: []].insert(variation) }
            }
            var result: [String: (lastEvaluatedAt: String?, stale: Staleness?)] = [:]
            for flag in flags {
                result[flag] = (
                    last[flag]?.1,
                    Staleness.classify(
                        lastEvaluatedAt: last[flag]?.0, lastEvaluatedText: last[flag]?.1, variationsInPeriod: served[flag] ?? [],
                        periodStart: periodStart)
                )
            }
            return result
        }
    }
}

/// `GET …/flags/{f}/insights` and the `stale` filter of `GET …/flags`.
struct FlagInsightsRoutes: Sendable {
    let store: ManagementStore
    /// `VANE_STALE_DAYS`.
    let staleDays: Int

    func addRoutes(to api: RouterGroup<ManagementContext>) {
        api.get("projects/:project/flags/:flag/insights") { request, context in
            _ = try context.require(.reader)
            var problems = Problems()
            let environment = request.query("environment")
            if environment == nil { problems.add("environment", "is required (an environment key)") }
            let days = Self.days(request.typedQuery("days"), into: &problems)
            try problems.check()
            let insights = try await store.insights(
                projectKey: try context.parameters.require("project"), flagKey: try context.parameters.require("flag"),
                environmentKey: environment ?? "", days: days)
            return JSONBody.response(Array(try JSONEncoder().encode(insights)))
        }
    }

    static func days(_ text: String?, into problems: inout Problems) -> Int {
        guard let text else { return InsightsLimits.defaultDays }
        guard let days = Int(text), InsightsLimits.days.contains(days) else {
            problems.add("days", "must be an integer within \(InsightsLimits.days.lowerBound)...\(InsightsLimits.days.upperBound)")
            return InsightsLimits.defaultDays
        }
        return days
    }
}
