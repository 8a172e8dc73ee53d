import Foundation
import ModelsCore
import Testing
@testable import VaneSDK

/// The lock-free half of analytics: per-flag summary counters, the context filter in front of the
/// processor's context-key cache, and their merge into the summary event.
@Suite("VaneSDK lock-free summary counting")
struct SummaryCountersTests {
    private let now: Int64 = 1_700_000_000_000

    private func compiled(_ json: String) throws -> CompiledFlag {
        CompiledFlag(try FeatureFlag(json: try JSONParser.parse(json)))
    }

    @Test("counts by variation (and without one), notes every set of kinds and the default; a drain takes and resets")
    func counting() throws {
        let counters = SummaryCounters(variationCount: 2)
        #expect(counters.drain() == nil, "nothing counted")
        let user = EvaluationContext.user("u")
        let org = try EvaluationContext(json: #"{"kind":"org","key":"o"}"#)
        let multi = try EvaluationContext(json: #"{"kind":"multi","user":{"key":"u"},"device":{"key":"d"}}"#)
        for _ in 0..<3 { counters.record(variation: 1, context: user, defaultValue: "first") }
        counters.record(variation: 0, context: org, defaultValue: "second")
        counters.record(variation: nil, context: multi, defaultValue: "third")
        counters.record(variation: 9, context: user, defaultValue: "x")  // out of range: counted as no variation
        let drained = try #require(counters.drain())
        #expect(drained.counts.map(\.variation) == [0, 1, nil])
        #expect(drained.counts.map(\.count) == [1, 3, 2])
        #expect(drained.contextKinds == ["device", "org", "user"])
        #expect(drained.defaultValue == "first")
        #expect(counters.drain() == nil, "a drain resets the counts")
        counters.record(variation: 0, context: user, defaultValue: "first")
        #expect(try #require(counters.drain()).counts.map(\.count) == [1])
    }

    @Test("more sets of kinds than slots are all named; concurrent counting loses nothing")
    func overflowAndConcurrency() async throws {
        let counters = SummaryCounters(variationCount: 3)
        let kinds = ["a", "b", "c", "d", "e", "f"]
        let contexts = try kinds.map { try EvaluationContext(json: #"{"kind":"\#($0)","key":"k"}"#) }
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for i in 0..<10_000 {
                        counters.record(variation: (task + i) % 3, context: contexts[i % contexts.count], defaultValue: 0)
                    }
                }
            }
        }
        let drained = try #require(counters.drain())
        #expect(drained.counts.reduce(0) { $0 + $1.count } == 80_000)
        #expect(drained.contextKinds == kinds)
    }

    @Test("the context filter holds what was inserted until cleared; equal keys hash equally, other kinds do not")
    func filter() throws {
        let filter = ContextFilter(capacity: 64)
        let user = EvaluationContext.user("u1")
        #expect(!filter.contains(user.fullyQualifiedKeyHash))
        filter.insert(user.fullyQualifiedKeyHash)
        #expect(filter.contains(EvaluationContext.user("u1").fullyQualifiedKeyHash), "another context object, the same key")
        #expect(!filter.contains(EvaluationContext.user("u2").fullyQualifiedKeyHash))
        let org = try EvaluationContext(json: #"{"kind":"org","key":"u1"}"#)
        #expect(org.fullyQualifiedKeyHash != user.fullyQualifiedKeyHash, "org:u1 is not the user u1")
        let ab = try EvaluationContext(json: #"{"kind":"multi","user":{"key":"a"},"org":{"key":"b"}}"#)
        let ba = try EvaluationContext(json: #"{"kind":"multi","user":{"key":"b"},"org":{"key":"a"}}"#)
        #expect(ab.fullyQualifiedKeyHash != ba.fullyQualifiedKeyHash)
        #expect(ab.kindsHash == ba.kindsHash)
        filter.clear()
        #expect(!filter.contains(user.fullyQualifiedKeyHash))
    }

    @Test("drained counts become the summary's counters (values, versions, kinds, default, window)")
    func summary() throws {
        let flag = try compiled(#"{"key":"f","version":4,"on":true,"variations":["a","b"],"fallthrough":{"variation":1}}"#)
        let counters = SummaryCounters(variationCount: 2)
        for _ in 0..<5 { counters.record(variation: 1, context: .user("u"), defaultValue: "d") }
        counters.record(variation: nil, context: .user("u"), defaultValue: "d")
        var processor = EventProcessor(settings: .init())
        processor.addCounts(try #require(counters.drain()), of: flag, windowStart: now - 1000, now: now)
        let payload = processor.takePayload()
        let taken = try #require(payload)
        let events = try #require(try JSONParser.parse(taken.body).arrayValue)
        #expect(events == [[
            "kind": "summary", "startDate": .number(Double(now - 1000)), "endDate": .number(Double(now)),
            "features": ["f": [
                "default": "d", "contextKinds": ["user"],
                "counters": [
                    ["value": "b", "count": 5, "variation": 1, "version": 4],
                    ["value": "d", "count": 1, "version": 4],
                ],
            ]],
        ]])
    }

    @Test("the processor reports once when its context-key cache forgot keys: an eviction, or the periodic reset")
    func forgetting() throws {
        var settings = EventProcessor.Settings()
        settings.contextKeysCapacity = 2
        settings.contextKeysFlushIntervalMillis = 1000
        var processor = EventProcessor(settings: settings)
        let flag = try compiled(#"{"key":"f","version":1,"on":false,"variations":[true,false],"offVariation":1}"#)
        func seen(_ key: String, at time: Int64) {
            let context = EvaluationContext.user(key)
            processor.recordEvaluationEvents(
                EvaluationRecord(flagKey: "f", flag: flag, context: context, detail: EvaluationData().evaluate(flag, context: context),
                                 defaultValue: false, withReason: false, prereqOf: nil), now: time)
        }
        seen("a", at: now)
        seen("b", at: now)
        let beforeEviction = processor.takeContextKeysForgotten()
        seen("c", at: now)
        let afterEviction = processor.takeContextKeysForgotten()
        let again = processor.takeContextKeysForgotten()
        #expect(!beforeEviction)
        #expect(afterEviction, "a was evicted")
        #expect(!again, "reported once")
        processor.resetContextKeysIfDue(now: now + 500)
        let early = processor.takeContextKeysForgotten()
        processor.resetContextKeysIfDue(now: now + 1000)
        let due = processor.takeContextKeysForgotten()
        #expect(!early)
        #expect(due, "the periodic reset")
    }
}

extension SummaryCounters.Drained: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.defaultValue == rhs.defaultValue && lhs.contextKinds == rhs.contextKinds
            && lhs.counts.map(\.variation) == rhs.counts.map(\.variation) && lhs.counts.map(\.count) == rhs.counts.map(\.count)
    }
}

/// The client's whole analytics path without a network: evaluations through `VaneClient` (data
/// from a file), then the payload a flush would send.
@Suite("VaneSDK client analytics (no network)")
struct ClientAnalyticsTests {
    private static let flags = #"""
        {"flags":{
          "parent":{"key":"parent","version":3,"on":true,"variations":[false,true],"fallthrough":{"variation":1},"offVariation":0,
                    "prerequisites":[{"key":"child","variation":1}],"salt":"s"},
          "child":{"key":"child","version":5,"on":true,"variations":["a","b"],"fallthrough":{"variation":1},"offVariation":0,
                   "trackEvents":true,"salt":"s"},
          "plain":{"key":"plain","version":1,"on":false,"variations":[1,2],"offVariation":0,"salt":"s"}
        },"segments":{}}
        """#

    private func client() async throws -> (VaneClient, URL) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-analytics-\(UUID().uuidString).json")
        try Data(Self.flags.utf8).write(to: file)
        // Events go nowhere (port 9) unless flushed: the test takes the payload itself.
        var configuration = VaneConfiguration(dataSource: .file(file))
        configuration.flushInterval = .seconds(3600)
        let nowhere = URL(string: "http://127.0.0.1:9")!
        let client = VaneClient(sdkKey: "sdk-test", baseURL: nowhere, eventsURL: nowhere, configuration: configuration)
        try await client.start(timeout: .seconds(5))
        return (client, file)
    }

    private func payload(_ client: VaneClient) throws -> [JSONValue] {
        let events = try #require(client.events)
        let taken = try #require(events.takePayload())
        return try #require(try JSONParser.parse(taken.body).arrayValue)
    }

    @Test("prerequisites, tracked flags, contexts seen again, a flag updated between flushes: events and counts as LaunchDarkly's")
    func analytics() async throws {
        let (client, file) = try await client()
        defer { try? FileManager.default.removeItem(at: file) }
        let u1 = EvaluationContext.user("u1"), u2 = EvaluationContext.user("u2")
        let org = try EvaluationContext(json: #"{"kind":"org","key":"acme"}"#)
        for _ in 0..<3 { #expect(client.boolVariation("parent", context: u1, default: false)) }
        for _ in 0..<2 { #expect(client.boolVariation("parent", context: u2, default: false)) }
        for _ in 0..<4 { #expect(client.intVariation("plain", context: org, default: 7) == 1) }

        let first = try payload(client)
        let kinds = first.compactMap { $0["kind"]?.stringValue }
        #expect(kinds.filter { $0 == "index" }.count == 3, "one per context: \(kinds)")
        let features = first.filter { $0["kind"] == "feature" }
        #expect(features.count == 5, "the tracked prerequisite, once per evaluation of its dependent")
        #expect(features.allSatisfy { $0["key"] == "child" && $0["prereqOf"] == "parent" && $0["value"] == "b" && $0["version"] == 5 })
        let summary = try #require(first.last)
        #expect(summary["kind"] == "summary")
        #expect(summary["features"]?["parent"]?["counters"] == [["value": true, "count": 5, "variation": 1, "version": 3]])
        #expect(summary["features"]?["parent"]?["default"] == false)
        #expect(summary["features"]?["child"]?["counters"] == [["value": "b", "count": 5, "variation": 1, "version": 5]])
        #expect(summary["features"]?["plain"]?["counters"] == [["value": 1, "count": 4, "variation": 0, "version": 1]])
        #expect(summary["features"]?["plain"]?["contextKinds"] == ["org"])
        #expect(summary["features"]?["plain"]?["default"] == 7)

        // A new version of `plain` arrives; evaluations counted against the old one before it are not lost.
        #expect(client.intVariation("plain", context: org, default: 7) == 1)
        var updated = try FeatureFlag(json: try JSONParser.parse(
            #"{"key":"plain","version":2,"on":true,"variations":[1,2],"fallthrough":{"variation":1},"salt":"s"}"#))
        updated.offVariation = 0
        client.store.upsert(updated)
        #expect(client.intVariation("plain", context: org, default: 7) == 2)
        let second = try payload(client)
        #expect(!second.contains { $0["kind"] == "index" }, "every context was seen recently")
        let counters = try #require(second.last?["features"]?["plain"]?["counters"]?.arrayValue)
        #expect(Set(counters.map { JSONWriter.string($0) }) == [
            JSONWriter.string(["value": 1, "count": 1, "variation": 0, "version": 1]),
            JSONWriter.string(["value": 2, "count": 1, "variation": 1, "version": 2]),
        ])
        #expect(client.events?.takePayload() == nil, "nothing pending")
        await client.shutdown()
    }
}
