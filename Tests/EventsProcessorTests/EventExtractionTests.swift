import Foundation
import KafkaKit
import ModelsCore
import ServiceKit
import Testing

@testable import EventsProcessor

@Suite("Event extraction")
struct EventExtractionTests {
    let extraction = EventExtraction(lateness: 7 * 24 * .millisecondsPerHour)
    let receivedAt = 1_800_000_000_000

    func record(_ events: String) throws -> EventsRecord {
        EventsRecord(
            environmentID: "env", payloadID: "p", receivedAt: receivedAt, source: .server, userAgent: "test",
            events: try JSONParser.parse(events).arrayValue!)
    }

    @Test("summary counters count evaluations; feature events of summarized flags are not counted again")
    func summaryAndFeature() throws {
        let t = receivedAt - 10_000
        let batch = try record("""
            [{"kind":"feature","creationDate":\(t),"key":"f","variation":1,"value":true,"context":{"kind":"user","key":"u1"}},
             {"kind":"feature","creationDate":\(t),"key":"tracked-only","variation":0,"value":true,"context":{"kind":"user","key":"u1"}},
             {"kind":"summary","startDate":\(t - 5000),"endDate":\(t + 5),"features":{"f":{"default":false,"counters":[
                {"count":3,"value":true,"variation":1,"version":2},{"count":2,"value":"x","unknown":true}]}}}]
            """)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(batch, statistics: &statistics)
        let hour = UnixMilliseconds(t - 5000).hourStart
        #expect(contribution.evaluations[EvaluationCell(environmentID: "env", flagKey: "f", variation: 1, hour: hour)]?.evaluations == 3)
        #expect(contribution.evaluations[EvaluationCell(environmentID: "env", flagKey: "f", variation: -1, hour: hour)]?.evaluations == 2)
        #expect(contribution.evaluations[EvaluationCell(environmentID: "env", flagKey: "f", variation: 1,
            hour: hour)]?.lastEvaluatedAt == UnixMilliseconds(t + 5))
        let trackedHour = UnixMilliseconds(t).hourStart
        #expect(contribution.evaluations[EvaluationCell(environmentID: "env", flagKey: "tracked-only", variation: 0,
            hour: trackedHour)]?.evaluations == 1)
        #expect(contribution.exposures.count == 2)
        #expect(statistics.events == 3 && statistics.featureEvents == 2 && statistics.summaryEvents == 1 && statistics.malformedEvents == 0)
    }

    @Test("a multi-kind context counts for each of its individual contexts; contextKeys and old users work")
    func contextForms() throws {
        let t = receivedAt - 1000
        let batch = try record("""
            [{"kind":"custom","creationDate":\(t),"key":"buy","metricValue":9.99,
              "context":{"kind":"multi","user":{"key":"u1","name":"Ann"},"org":{"key":"o1"}}},
             {"kind":"custom","creationDate":\(t),"key":"buy","contextKeys":{"device":"d1"}},
             {"kind":"feature","creationDate":\(t),"key":"f","variation":0,"context":{"key":"legacy"}},
             {"kind":"feature","creationDate":\(t),"key":"f","variation":2,"userKey":"schema3"}]
            """)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(batch, statistics: &statistics)
        let goalContexts = Set(contribution.goals.keys.map(\.context.context))
        #expect(goalContexts == [ContextIdentity(kind: "user", key: "u1"), ContextIdentity(kind: "org", key: "o1"),
                                 ContextIdentity(kind: "device", key: "d1")])
        let u1 = GoalCell(context: EnvironmentContext(environmentID: "env", context: ContextIdentity(kind: "user", key: "u1")),
                          metricKey: "buy", occurredAt: UnixMilliseconds(t))
        #expect(contribution.goals[u1] == GoalTally(events: 1, valueSum: Decimal(string: "9.99")!,
            valueSquares: Decimal(string: "99.8001")!))
        #expect(Set(contribution.exposures.keys.map(\.context.context.key)) == ["legacy", "schema3"])
    }

    @Test("malformed events are skipped and counted, never fatal")
    func malformed() throws {
        let t = receivedAt
        let batch = try record("""
            [17, {"kind":"feature"}, {"kind":"custom","key":"m","creationDate":"yesterday","context":{"key":"u"}},
             {"kind":"custom","key":"m","creationDate":\(t),"context":{"kind":"multi"}},
             {"kind":"custom","key":"m","creationDate":\(t),"context":{"kind":"user","key":""}},
             {"kind":"summary","startDate":\(t),"features":{"f":{"counters":[{"count":"two"}]}}},
             {"kind":"feature","key":"f","creationDate":\(t),"context":{"kind":"user","key":"u"}},
             {"kind":"identify","creationDate":\(t),"context":{"kind":"user","key":"u"}},
             {"kind":"something-new"}]
            """)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(batch, statistics: &statistics)
        #expect(statistics.events == 9)
        #expect(statistics.malformedEvents == 4)
        #expect(statistics.eventsWithoutContext == 2)
        #expect(statistics.otherEvents == 2)
        // The feature event without a variation counts as an evaluation without an exposure.
        #expect(contribution.evaluations.values.map(\.evaluations) == [1])
        #expect(contribution.exposures.isEmpty && contribution.goals.isEmpty)
    }

    @Test("keys PostgreSQL cannot store (a NUL character) make the event malformed or its context unusable, never a stuck chunk")
    func nulCharacters() throws {
        let t = receivedAt
        let batch = try record("""
            [{"kind":"feature","key":"f\\u0000","creationDate":\(t),"variation":0,"context":{"kind":"user","key":"u"}},
             {"kind":"custom","key":"m\\u0000","creationDate":\(t),"context":{"kind":"user","key":"u"}},
             {"kind":"custom","key":"m","creationDate":\(t),"context":{"kind":"user","key":"a\\u0000b"}},
             {"kind":"custom","key":"m","creationDate":\(t),"context":{"kind":"multi","user":{"key":"\\u0000"},"org":{"key":"o"}}},
             {"kind":"custom","key":"m","creationDate":\(t),"contextKeys":{"user":"\\u0000"}},
             {"kind":"custom","key":"m","creationDate":\(t),"user":{"key":"x\\u0000"}},
             {"kind":"custom","key":"m","creationDate":\(t),"userKey":"x\\u0000"},
             {"kind":"summary","startDate":\(t),"features":{"f\\u0000":{"counters":[{"count":2,"variation":0}]}}},
             {"kind":"custom","key":"m","creationDate":\(t),"context":{"kind":"user","key":"fine"}}]
            """)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(batch, statistics: &statistics)
        #expect(statistics.malformedEvents == 3)
        #expect(statistics.eventsWithoutContext == 5)
        #expect(contribution.exposures.isEmpty && contribution.evaluations.isEmpty)
        #expect(contribution.goals.keys.map(\.context.context.key) == ["fine"])
    }

    @Test("events created longer than the retention before receipt are not correlated")
    func lateEvents() throws {
        let old = receivedAt - 8 * 24 * 3_600_000
        let batch = try record("""
            [{"kind":"feature","creationDate":\(old),"key":"f","variation":1,"context":{"kind":"user","key":"u1"}},
             {"kind":"custom","creationDate":\(old),"key":"m","context":{"kind":"user","key":"u1"}}]
            """)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(batch, statistics: &statistics)
        #expect(statistics.lateEvents == 2)
        #expect(contribution.exposures.isEmpty && contribution.goals.isEmpty)
        #expect(contribution.evaluations.count == 1)
    }

    @Test("metric values are summed as exact decimals; absurd magnitudes are ignored")
    func decimals() {
        #expect(Decimal.exact(0.1) + Decimal.exact(0.2) == Decimal(string: "0.3")!)
        #expect(Decimal.exact(1e-5) == Decimal(string: "0.00001")!)
        #expect(Decimal(string: "123.456")!.numericText == "123.456")
        #expect(GoalTally.event(value: -2.5) == GoalTally(events: 1, valueSum: Decimal(string: "-2.5")!,
            valueSquares: Decimal(string: "6.25")!))
    }

    @Test("a value too large or too small for exact squares is ignored, its event still counted; none stops the process")
    func metricMagnitudes() throws {
        let t = receivedAt - 1000
        let values = ["5", "1e31", "-1e30", "1e-100", "-4.9e-324", "1e-30", "0", "0.5e-30"]
        let events = values.enumerated().map { index, value in
            #"{"kind":"custom","creationDate":\#(t + index),"key":"m","metricValue":\#(value),"context":{"kind":"user","key":"u"}}"#
        }
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(try record("[" + events.joined(separator: ",") + "]"), statistics: &statistics)
        let total = contribution.goals.values.reduce(GoalTally(), +)
        #expect(total.events == Int64(values.count) && statistics.malformedEvents == 0)
        #expect(total.valueSum == Decimal(string: "5.000000000000000000000000000001")!)
        #expect(total.valueSquares == Decimal(25) + Decimal(string: "1e-60")!)
    }

    @Test("a metric value's numeric texts, made from its shortest digits, are exactly Foundation's decimal and its square")
    func shortestDecimalTexts() throws {
        var generator = SystemRandomNumberGenerator()
        let fixed: [Double] = [0, -0.0, 1, -1, 9.99, 0.1, 100, 1e-5, 123456.789, -2.5, 1e15, 1e16, 1.5e20, 9.999999999999999e29,
            123456789012345680, 0.30000000000000004, 1e-30, -1.2345678901234567e-30]
        // Every finite value extraction keeps (EventExtraction's magnitudes), from random bit patterns.
        let random = (0..<20_000).map { _ in Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator)) }
            .filter { $0.isFinite && abs($0) < EventExtraction.maximumMetricMagnitude && abs($0) >= EventExtraction.minimumMetricMagnitude }
        #expect(random.count > 1000)
        for value in fixed + random {
            let exact = Decimal.exact(value)
            let tally = GoalTally.event(value: value)
            #expect(tally == GoalTally(events: 1, valueSum: exact, valueSquares: exact * exact), "\(value)")
            let digits = try #require(ShortestDecimal(value), "every value extraction keeps takes the fast path: \(value)")
            #expect(digits.decimal == exact, "\(value)")
            #expect(Decimal(string: tally.valueSumText) == exact, "\(value): \(tally.valueSumText)")
            #expect(Decimal(string: tally.valueSquaresText) == exact * exact, "\(value): \(tally.valueSquaresText)")
        }
        #expect(ShortestDecimal(9.99)?.numericText == "999e-2")
        #expect(ShortestDecimal(9.99)?.squareNumericText == "998001e-4")
        #expect(ShortestDecimal(-100)?.numericText == "-1e2")
        #expect(ShortestDecimal(-0.0)?.numericText == "0")
        #expect(ShortestDecimal(.nan) == nil && ShortestDecimal(.infinity) == nil && ShortestDecimal(1e-61) == nil)
        // A sum of two events is formatted from its decimal.
        let sum = GoalTally.event(value: 0.1) + GoalTally.event(value: 0.2)
        #expect(sum.valueSumText == "0.3" && sum.valueSquaresText == "0.05")
    }

    @Test("a consumed record's ignored events are only validated, and counted exactly as when they were built")
    func omittedEvents() throws {
        let t = receivedAt - 1000
        let events = """
            [{"kind":"index","creationDate":\(t),"context":{"kind":"user","key":"u1","name":"Ann"}},
             {"kind":"feature","creationDate":\(t),"key":"f","variation":1,"context":{"kind":"user","key":"u1"}},
             {"creationDate":\(t),"kind":"identify","context":{"kind":"user","key":"u2"}},
             {"kind":"custom","creationDate":\(t),"key":"buy","metricValue":2.5,"context":{"kind":"user","key":"u2"}},
             {"kind":"index","kind":"custom","creationDate":\(t),"key":"buy","context":{"kind":"user","key":"u3"}},
             {"kind":"custom","kind":"migration_op"},{"kind":"debug","key":"f"},{"kind":5},{"key":"f"},"x",
             {"kind":"summary","startDate":\(t),"features":{"f":{"counters":[{"count":2,"variation":1}]}}}]
            """
        let value = Array("""
            {"environmentId":"env","payloadId":"p","receivedAt":\(receivedAt),"source":"server","events":\(events)}
            """.utf8)
        let consumed = ConsumedRecord(KafkaConsumerMessage(topic: "t", partition: 0, offset: 0, value: value), extraction: extraction)
        var statistics = EventExtraction.Statistics()
        let contribution = extraction.extract(try EventsRecord(json: JSONParser.parse(value)), statistics: &statistics)
        #expect(consumed.envelope != nil)
        #expect(consumed.statistics == statistics)
        #expect(statistics.events == 11 && statistics.otherEvents == 4 && statistics.malformedEvents == 3)
        #expect(consumed.contribution.evaluations == contribution.evaluations)
        #expect(consumed.contribution.exposures == contribution.exposures && contribution.exposures.count == 1)
        #expect(consumed.contribution.exposureInstants == contribution.exposureInstants)
        #expect(consumed.contribution.goals == contribution.goals && contribution.goals.count == 2)
        // Bad JSON inside an ignored event still makes the whole record invalid (skipped, its offset advances).
        let broken = Array(String(decoding: value, as: UTF8.self).replacingOccurrences(of: "\"Ann\"", with: "\"A\\qnn\"").utf8)
        #expect((try? JSONParser.parse(broken)) == nil)
        let skipped = ConsumedRecord(KafkaConsumerMessage(topic: "t", partition: 0, offset: 1, value: broken), extraction: extraction)
        #expect(skipped.envelope == nil && skipped.statistics == EventExtraction.Statistics())
    }

    @Test("hours are UTC hour starts")
    func hours() {
        #expect(UnixMilliseconds(3_600_000 * 5 + 17).hourStart == 3_600_000 * 5)
        #expect(UnixMilliseconds(-1).hourStart == -3_600_000)
    }
}

@Suite("Settings")
struct ProcessorSettingsTests {
    let required = ["VANE_DATABASE_URL": "postgres://vane@localhost:5432/vane", "VANE_KAFKA_BROKERS": "a:9092, b:9092"]

    @Test("defaults follow the issue; every problem is reported at once")
    func defaults() throws {
        let settings = try ProcessorSettings(environment: required)
        #expect(settings.http.port == 8050)
        #expect(settings.eventsTopic == "vane.events.raw" && settings.consumerGroup == "vane-events-processor")
        #expect(settings.correlationDelay == .seconds(120) && settings.delayMilliseconds == 120_000)
        #expect(settings.kafka.brokers == ["a:9092", "b:9092"])
        #expect(settings.retentionMilliseconds == 168 * 3_600_000)

        var broken = required
        broken["VANE_DATABASE_URL"] = "mysql://nope"
        broken["VANE_CORRELATION_DELAY_SECONDS"] = "soon"
        broken["VANE_FINALIZE_INTERVAL_SECONDS"] = "0"
        do {
            _ = try ProcessorSettings(environment: broken)
            Issue.record("invalid settings were accepted")
        } catch let problems as ServiceEnvironment.Problems {
            #expect(Set(problems.problems.map(\.variable)) == ["VANE_DATABASE_URL", "VANE_CORRELATION_DELAY_SECONDS",
                "VANE_FINALIZE_INTERVAL_SECONDS"])
        }
    }
}
