import Foundation
import ModelsCore
import Testing
import TestSupport

/// LaunchDarkly's Python server SDK (9.18.2, from `.venv`) sends its events to events-ingest.
@Suite("LaunchDarkly Python SDK events through events-ingest", .serialized, .timeLimit(.minutes(3)), .ingestStack())
struct PythonSDKTests {
    struct Post {
        var path: String
        var payloadID: String?
        var body: JSONValue
        var statuses: [JSONValue]
    }

    private func runSDK(_ ingest: ServiceProcess, sdkKey: String, scenario: String) async throws -> [Post] {
        let script = RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/ingest_sdk_events.py").path
        let result = try await offCooperativePool {
            try ChildProcess.run(RepositoryPaths.python, [script, ingest.baseURL, sdkKey, scenario])
        }
        try #require(result.status == 0, "SDK script failed:\n\(result.standardError)\n\(ingest.logTail())")
        guard case .array(let posts) = try JSONParser.parse(result.standardOutput) else { throw TestFailure("unexpected script output") }
        return posts.map { post in
            Post(path: post["path"]?.stringValue ?? "", payloadID: post["payloadId"]?.stringValue, body: post["body"] ?? .null,
                 statuses: post["statuses"]?.arrayValue ?? [])
        }
    }

    @Test("feature, custom, identify, index and summary events (and diagnostics, and gzip) arrive intact under the SDK's payload ids")
    func eventKinds() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let posts = try await runSDK(stack.ingest, sdkKey: environment.sdkKey, scenario: "kinds")
        let bulk = posts.filter { $0.path == "bulk" }
        try #require(bulk.count == 2)
        #expect(posts.allSatisfy { $0.statuses == [202] }, "every post was answered 202 at once: \(posts.map(\.statuses))")

        let records = try await stack.records(environmentID: environment.id)
        for post in bulk {
            let matching = records.filter { $0.record.payloadID == post.payloadID }
            try #require(matching.count == 1, "payload \(post.payloadID ?? "-") is on the topic exactly once")
            #expect(.array(matching[0].record.events) == post.body, "the events are exactly what the SDK sent")
            #expect(matching[0].record.source == .server)
            #expect(matching[0].record.userAgent.hasPrefix("PythonClient/"))
        }

        let events = try #require(bulk[0].body.arrayValue)
        let kinds = Set(events.compactMap { $0["kind"]?.stringValue })
        #expect(kinds.isSuperset(of: ["feature", "custom", "identify", "index", "summary"]), "\(kinds)")
        let feature = try #require(events.first { $0["kind"] == "feature" })
        #expect(feature["key"] == "tracked-flag" && feature["value"] == true && feature["version"] == 7)
        let custom = try #require(events.first { $0["kind"] == "custom" })
        #expect(custom["key"] == "purchase" && custom["metricValue"] == 9.99 && custom["data"]?["sku"] == "x-1")
        let summary = try #require(events.first { $0["kind"] == "summary" })
        #expect(summary["features"]?["missing-flag"]?["counters"]?.arrayValue?.first?["unknown"] == true)
        #expect(bulk[1].body.arrayValue?.contains { $0["key"] == "gzip-goal" } == true, "the compressed batch arrived")

        let diagnostic = try #require(records.first { $0.record.events.first?["kind"] == "diagnostic-init" })
        #expect(diagnostic.record.events.first?["id"]?["sdkKeySuffix"] == .string(String(environment.sdkKey.suffix(6))))
        #expect(records.count == 3, "two batches and one diagnostic event, nothing else")
    }

    @Test("a batch refused with 429 is retried by the SDK with the same payload id and stored once")
    func retryKeepsPayloadID() async throws {
        let stack = try currentStack()
        let limited = try await stack.startIngest(environment: [
            "VANE_EVENTS_RATE_LIMIT_PER_SECOND": "1", "VANE_EVENTS_RATE_LIMIT_BURST": "1",
        ])
        defer { limited.stopBlocking() }
        let environment = try await stack.createEnvironment(knownTo: limited)
        // waitUntilKnown's probes were refused with 400 after taking a token: let the bucket refill.
        try await Task.sleep(for: .milliseconds(1100))
        let posts = try await runSDK(limited, sdkKey: environment.sdkKey, scenario: "retry")
        try #require(posts.count == 2)
        let retriedPost = try #require(posts.first { $0.statuses == [429, 202] },
            "the SDK retried once after 429: \(posts.map(\.statuses))")
        #expect(posts.contains { $0.statuses == [202] })

        let records = try await stack.records(environmentID: environment.id)
        #expect(records.map(\.record.payloadID).sorted() == posts.compactMap(\.payloadID).sorted())
        let retried = try #require(records.first { $0.record.payloadID == retriedPost.payloadID })
        #expect(.array(retried.record.events) == retriedPost.body)
    }
}
