import ModelsCore
import Testing
@testable import VaneSDK

@Suite("VaneSDK event processor")
struct EventProcessorTests {
    private let now: Int64 = 1_700_000_000_000

    private func compiled(_ json: String) throws -> CompiledFlag {
        CompiledFlag(try FeatureFlag(json: try JSONParser.parse(json)))
    }

    private func record(
        _ flag: CompiledFlag?, key: String, context: EvaluationContext, withReason: Bool = false, default defaultValue: JSONValue = false
    ) -> EvaluationRecord {
        let detail: EvaluationDetail
        if let flag {
            detail = EvaluationData().evaluate(flag, context: context).applyingDefault(defaultValue, checkType: false)
        } else {
            detail = EvaluationDetail(value: defaultValue, variationIndex: nil, reason: .error(.flagNotFound))
        }
        return EvaluationRecord(flagKey: key, flag: flag, context: context, detail: detail, defaultValue: defaultValue,
                                withReason: withReason, prereqOf: nil)
    }

    private func payload(_ processor: inout EventProcessor) throws -> [JSONValue] {
        let payload = processor.takePayload()
        let taken = try #require(payload)
        return try #require(try JSONParser.parse(taken.body).arrayValue)
    }

    @Test("untracked evaluations are only summarized; one index event per context; unknown flags count as unknown")
    func summaryAndIndex() throws {
        var processor = EventProcessor(settings: .init())
        let flag = try compiled(#"{"key":"f","version":7,"on":true,"variations":[false,true],"fallthrough":{"variation":1}}"#)
        let alice = try EvaluationContext(json: #"{"kind":"user","key":"alice","name":"Alice"}"#)
        let org = try EvaluationContext(json: #"{"kind":"org","key":"acme"}"#)
        for _ in 0..<3 { processor.recordEvaluation(record(flag, key: "f", context: alice), now: now) }
        processor.recordEvaluation(record(flag, key: "f", context: org), now: now + 5)
        processor.recordEvaluation(record(nil, key: "missing", context: alice, default: "dflt"), now: now + 9)
        let events = try payload(&processor)
        #expect(events.map { $0["kind"]?.stringValue } == ["index", "index", "summary"])
        #expect(events[0]["context"] == ["kind": "user", "key": "alice", "name": "Alice"])
        let summary = events[2]
        #expect(summary["startDate"] == .number(Double(now)) && summary["endDate"] == .number(Double(now + 9)))
        #expect(summary["features"]?["f"] == [
            "default": false, "contextKinds": ["org", "user"],
            "counters": [["value": true, "count": 4, "variation": 1, "version": 7]],
        ])
        #expect(summary["features"]?["missing"] == [
            "default": "dflt", "contextKinds": ["user"], "counters": [["value": "dflt", "count": 1, "unknown": true]],
        ])
        let empty = processor.takePayload()
        #expect(empty == nil, "the window was emptied")
        processor.recordEvaluation(record(flag, key: "f", context: alice), now: now + 10)
        #expect(try payload(&processor).map { $0["kind"]?.stringValue } == ["summary"], "alice is still remembered")
        processor.recordEvaluation(record(flag, key: "f", context: alice), now: now + 300_001)
        #expect(try payload(&processor).map { $0["kind"]?.stringValue } == ["index", "summary"], "the memory is cleared every 5 minutes")
    }

    @Test("tracked flags and experiments give feature events (with reasons when asked or experimenting); debug events until their date")
    func featureEvents() throws {
        var processor = EventProcessor(settings: .init())
        let tracked = try compiled(
            #"{"key":"t","version":2,"on":true,"trackEvents":true,"variations":["a","b"],"fallthrough":{"variation":0}}"#)
        let experiment = try compiled(
            #"{"key":"x","version":3,"on":true,"variations":[1,2],"#
                + #""fallthrough":{"rollout":{"kind":"experiment","variations":[{"variation":0,"weight":100000}]}}}"#)
        let debug = try compiled(
            #"{"key":"d","version":1,"on":false,"offVariation":0,"variations":[true],"debugEventsUntilDate":1800000000000}"#)
        let context = try EvaluationContext(json: #"{"kind":"user","key":"u","email":"u@x","anonymous":true}"#)
        processor.recordEvaluation(record(tracked, key: "t", context: context, default: "z"), now: now)
        processor.recordEvaluation(record(tracked, key: "t", context: context, withReason: true, default: "z"), now: now)
        processor.recordEvaluation(record(experiment, key: "x", context: context, default: 0), now: now)
        processor.recordEvaluation(record(debug, key: "d", context: context), now: now)
        let events = try payload(&processor)
        #expect(events.map { $0["kind"]?.stringValue } == ["index", "feature", "feature", "feature", "debug", "summary"])
        #expect(events[1] == [
            "kind": "feature", "creationDate": .number(Double(now)), "key": "t", "value": "a", "default": "z", "version": 2,
            "variation": 0, "context": ["kind": "user", "key": "u", "anonymous": true, "_meta": ["redactedAttributes": ["email"]]],
        ])
        #expect(events[2]["reason"] == ["kind": "FALLTHROUGH"])
        #expect(events[3]["reason"] == ["kind": "FALLTHROUGH", "inExperiment": true])
        #expect(events[4]["context"]?["email"] == "u@x", "debug events keep anonymous contexts' attributes")
        #expect(events[0]["context"]?["email"] == "u@x", "index events are not redacted for anonymity")
    }

    @Test("custom and identify events; identify marks the context seen; the queue is bounded and reports flushAt")
    func customIdentifyAndCapacity() throws {
        var settings = EventProcessor.Settings()
        settings.capacity = 3
        settings.flushAt = 2
        var processor = EventProcessor(settings: settings)
        let context = try EvaluationContext(json: #"{"kind":"multi","user":{"key":"u"},"org":{"key":"o:1"}}"#)
        let afterIdentify = processor.recordIdentify(context, now: now)
        let afterFirst = processor.recordCustom(key: "purchase", context: context, data: ["sku": "x"], metricValue: 9.99, now: now)
        let afterSecond = processor.recordCustom(key: "again", context: context, data: nil, metricValue: nil, now: now)
        let afterThird = processor.recordCustom(key: "dropped", context: context, data: nil, metricValue: nil, now: now)
        #expect(!afterIdentify && afterFirst && afterSecond && afterThird, "flushAt (2) is reached by the second event")
        #expect(processor.droppedEvents == 1)
        let events = try payload(&processor)
        #expect(events.map { $0["kind"]?.stringValue } == ["identify", "custom", "custom"])
        #expect(events[1] == [
            "kind": "custom", "creationDate": .number(Double(now)), "key": "purchase", "data": ["sku": "x"], "metricValue": 9.99,
            "context": ["kind": "multi", "org": ["key": "o:1"], "user": ["key": "u"]],
        ])
    }

    @Test("private attributes: configured names and paths, the context's own, all of them; key, kind and anonymous never")
    func redaction() throws {
        let context = try EvaluationContext(json: #"""
            {"kind":"user","key":"k","name":"N","email":"e","address":{"street":"s","city":"c"},"plan":"p",
             "_meta":{"privateAttributes":["plan"]}}
            """#)
        let formatter = EventContextFormatter(privateAttributes: ["email", "/address/street",
            "key"].map { AttributeReference(reference: $0) })
        #expect(formatter.jsonValue(context, redactAnonymous: true) == [
            "kind": "user", "key": "k", "name": "N", "address": ["city": "c"],
            "_meta": ["redactedAttributes": ["email", "/address/street", "plan"]],
        ])
        let all = EventContextFormatter(allAttributesPrivate: true)
        #expect(all.jsonValue(context, redactAnonymous: false) == [
            "kind": "user", "key": "k", "_meta": ["redactedAttributes": ["name", "address", "email", "plan"]],
        ])
    }

    @Test("the context-key cache forgets the least recently used key")
    func lru() {
        var keys = LRUKeys(capacity: 2)
        let results = ["a", "b", "a", "c", "a", "b"].map { keys.insert($0) }
        #expect(results == [true, true, false, true, false, true], "c evicts b (least recently used), not a")
        for i in 0..<10_000 { _ = keys.insert("k\(i % 3)") }
        #expect(keys.count == 2)
    }

    @Test("recoverable statuses are retried once; others disable events")
    func statuses() {
        #expect([400, 408, 429, 500, 503].allSatisfy(EventSender.isRecoverable))
        #expect(![401, 403, 404, 413].contains(where: EventSender.isRecoverable))
    }
}
