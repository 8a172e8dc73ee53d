import Foundation
import ModelsCore
import Testing
import TestSupport

@testable import ManagementAPI

/// Flag insights and stale-flag detection, from `analytics.evaluations_hourly` and `analytics.flag_last_evaluated`
/// as events-processor writes them.
@Suite("management-api: flag insights and stale flags", .serialized, .timeLimit(.minutes(3)))
struct FlagInsightsTests {
    @Test("staleness: never evaluated, not recently, a single variation, or not stale")
    func classify() {
        let period: Int64 = 1_000_000
        #expect(Staleness.classify(lastEvaluatedAt: nil, lastEvaluatedText: nil, variationsInPeriod: [], periodStart: period)?.reason
            == .neverEvaluated)
        #expect(Staleness.classify(lastEvaluatedAt: period - 1, lastEvaluatedText: "t", variationsInPeriod: [], periodStart: period)
            == Staleness(reason: .notEvaluatedRecently, lastEvaluatedAt: "t", variation: nil))
        #expect(Staleness.classify(lastEvaluatedAt: period, lastEvaluatedText: "t", variationsInPeriod: [2], periodStart: period)
            == Staleness(reason: .singleVariation, lastEvaluatedAt: "t", variation: 2))
        #expect(
            Staleness.classify(lastEvaluatedAt: period, lastEvaluatedText: "t", variationsInPeriod: [0, 1], periodStart: period) == nil)
        #expect(Staleness.classify(lastEvaluatedAt: period, lastEvaluatedText: "t", variationsInPeriod: [], periodStart: period) == nil)
    }

    static let hour: Int64 = 3_600_000
    static let day: Int64 = 24 * hour

    static func date(_ milliseconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    @Test("insights per day and variation; stale flags with their reason (VANE_STALE_DAYS=3); bad input")
    func insightsAndStale() async throws {
        let api = ManagementHarness(stack: try await TestStack.start(environment: ["VANE_STALE_DAYS": "3"]))
        do {
            try await run(api)
        } catch {
            Issue.record("management-api log:\n\(api.stack.managementAPI.logTail())")
            await api.stop()
            throw error
        }
        await api.stop()
    }

    private func run(_ api: ManagementHarness) async throws {
        try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
        let project = try await api.expect(200, "GET", "/projects/shop")
        let environments = try #require(project["environments"]?.arrayValue)
        let production = try #require(environments.first { $0["key"] == "production" }?["id"]?.stringValue).lowercased()
        let test = try #require(environments.first { $0["key"] == "test" }?["id"]?.stringValue).lowercased()
        for key in ["never", "old", "single", "healthy"] {
            try await api.expect(
                201, "POST", "/projects/shop/flags", #"{"key":"\#(key)","name":"\#(key)","variations":[{"value":1},{"value":2}]}"#)
        }
        let reader = try await api.token("reader")

        // Before events-processor ever ran: nothing was evaluated.
        let none = try await api.expect(200, "GET", "/projects/shop/flags?environment=production&stale=true", token: reader)
        let initial = none["items"]?.arrayValue?.compactMap { $0["stale"]?["reason"]?.stringValue }
        #expect(initial == Array(repeating: "neverEvaluated", count: 4))
        let empty = try await api.expect(200, "GET", "/projects/shop/flags/single/insights?environment=production&days=2", token: reader)
        #expect(empty["lastEvaluatedAt"] == .null && empty["daily"]?.arrayValue?.map { $0["total"] } == [0, 0])

        let processor = try ServiceProcess("events-processor", environment: [
            "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
        ])
        try await processor.waitUntilReady()
        #expect(await processor.stop() == 0)

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let thisHour = now - now % Self.hour
        // (environment, flag, variation, hour, evaluations)
        let hourly: [(String, String, Int, Int64, Int)] = [
            (production, "old", 0, thisHour - 5 * Self.day, 10), (production, "old", 1, thisHour - 5 * Self.day, 4),
            (production, "single", 0, thisHour - 5 * Self.day, 7), (production, "single", 1, thisHour - 2 * Self.day, 3),
            (production, "single", 1, thisHour - Self.hour, 5), (production, "single", 1, thisHour, 1),
            (production, "healthy", 0, thisHour - Self.day, 8), (production, "healthy", 1, thisHour, 2),
            (production, "healthy", -1, thisHour, 1), (test, "never", 0, thisHour, 99), (test, "single", 0, thisHour, 50),
        ]
        let last: [(String, String, Int64)] = [
            (production, "old", thisHour - 5 * Self.day + 600_000), (production, "single", now - 1_000),
            (production, "healthy", now - 2_000), (test, "never", now),
        ]
        var sql = ["BEGIN;"]
        for (environment, flag, variation, hour, evaluations) in hourly {
            sql.append("""
                INSERT INTO analytics.evaluations_hourly
                VALUES ('\(environment)', '\(flag)', \(variation), to_timestamp(\(hour) / 1000.0), \(evaluations));
                """)
        }
        for (environment, flag, at) in last {
            sql.append("INSERT INTO analytics.flag_last_evaluated VALUES ('\(environment)', '\(flag)', to_timestamp(\(at) / 1000.0));")
        }
        sql.append("COMMIT;")
        try await ExperimentTests.psql(api.stack.databaseURL, sql.joined(separator: "\n"))

        let stale = try await api.expect(200, "GET", "/projects/shop/flags?environment=production&stale=true", token: reader)
        let reasons = Dictionary(uniqueKeysWithValues: try #require(stale["items"]?.arrayValue).compactMap { item in
            item["key"]?.stringValue.map { ($0, item["stale"] ?? .null) }
        })
        #expect(Set(reasons.keys) == ["never", "old", "single"])
        #expect(reasons["never"]?["reason"] == "neverEvaluated" && reasons["never"]?["lastEvaluatedAt"] == .null)
        #expect(reasons["old"]?["reason"] == "notEvaluatedRecently")
        let oldLast = reasons["old"]?["lastEvaluatedAt"]?.stringValue.flatMap(rfc3339UnixMilliseconds)
        #expect(oldLast == Int(thisHour - 5 * Self.day + 600_000))
        #expect(reasons["single"]?["reason"] == "singleVariation" && reasons["single"]?["variation"] == 1)
        let fresh = try await api.expect(200, "GET", "/projects/shop/flags?environment=production&stale=false", token: reader)
        #expect(fresh["items"]?.arrayValue?.map { $0["key"] } == ["healthy"] && fresh["items"]?[0]?["stale"] == nil)
        // Each environment on its own: in "test" only "never" was evaluated (one variation); "single" has hourly
        // counts there but no last evaluation.
        let other = try await api.expect(200, "GET", "/projects/shop/flags?environment=test&stale=true")
        let otherReasons = other["items"]?.arrayValue?.compactMap { item in
            item["key"]?.stringValue.map { "\($0):\(item["stale"]?["reason"]?.stringValue ?? "-")" }
        }
        #expect(otherReasons?.sorted()
            == ["healthy:neverEvaluated", "never:singleVariation", "old:neverEvaluated", "single:neverEvaluated"])
        try await api.expect(422, "GET", "/projects/shop/flags?environment=production&stale=maybe")
        try await api.expect(422, "GET", "/projects/shop/flags?stale=true")
        try await api.expect(404, "GET", "/projects/shop/flags?environment=nope&stale=true")
        #expect(try await api.expect(200, "GET", "/projects/shop/flags")["items"]?.arrayValue?.count == 4)

        let insights = try await api.expect(200, "GET", "/projects/shop/flags/single/insights?environment=production&days=7", token: reader)
        #expect(insights["flag"] == "single" && insights["environment"] == "production" && insights["days"] == 7)
        #expect(insights["lastEvaluatedAt"]?.stringValue.flatMap(rfc3339UnixMilliseconds) == Int(now - 1_000))
        let daily = try #require(insights["daily"]?.arrayValue)
        let today = now - now % Self.day
        #expect(daily.compactMap { $0["date"]?.stringValue } == (0..<7).reversed().map { Self.date(today - Int64($0) * Self.day) })
        #expect(insights["from"]?.stringValue.flatMap(rfc3339UnixMilliseconds) == Int(today - 6 * Self.day))
        var expected: [String: [Int: Int]] = [:]
        for (environment, flag, variation, hour, evaluations) in hourly where environment == production && flag == "single" {
            expected[Self.date(hour), default: [:]][variation, default: 0] += evaluations
        }
        for day in daily {
            let date = try #require(day["date"]?.stringValue)
            let wanted = expected[date] ?? [:]
            let variations = day["variations"]?.arrayValue ?? []
            #expect(variations.map { $0["variation"]?.integerValue ?? -9 } == wanted.keys.sorted(), "\(date)")
            #expect(variations.map { $0["evaluations"]?.integerValue ?? -9 } == wanted.keys.sorted().map { wanted[$0]! }, "\(date)")
            #expect(day["total"]?.integerValue == wanted.values.reduce(0, +), "\(date)")
        }
        #expect(daily.compactMap { $0["total"]?.integerValue }.reduce(0, +) == 16)
        let defaults = try await api.expect(200, "GET", "/projects/shop/flags/healthy/insights?environment=production")
        #expect(defaults["days"] == 30 && defaults["daily"]?.arrayValue?.count == 30)
        #expect(defaults["daily"]?.arrayValue?.last?["variations"]?[0]?["variation"] == -1)

        for (query, path) in [("days=0", "days"), ("days=366", "days"), ("days=x", "days"), ("", "environment")] {
            let problem = try await api.expect(422, "GET", "/projects/shop/flags/single/insights?\(query)\(query.isEmpty ? "" : "&")"
                                                   + (path == "environment" ? "" : "environment=production"))
            #expect(problem["details"]?[0]?["path"]?.stringValue == path, "\(query)")
        }
        try await api.expect(404, "GET", "/projects/shop/flags/nope/insights?environment=production")
        try await api.expect(404, "GET", "/projects/shop/flags/single/insights?environment=nope")
    }
}
