import Foundation
import Logging
import ModelsCore
import Testing
import TestSupport
import VaneSDK

/// VaneSDK against real services: management-api (through dev-kafka) feeds relay-streamer, which
/// the client streams or polls; its events go through events-ingest to `vane.events.raw`.
@Suite("VaneSDK against the relay and events-ingest", .serialized, .timeLimit(.minutes(10)))
struct ClientIntegrationTests {
    private func client(_ stack: SDKStack, sdkKey: String, _ configure: (inout VaneConfiguration) -> Void = { _ in }) -> VaneClient {
        var configuration = VaneConfiguration()
        configure(&configuration)
        return VaneClient(
            sdkKey: sdkKey, baseURL: URL(string: stack.relay.baseURL)!, eventsURL: URL(string: stack.ingest.baseURL)!,
            configuration: configuration, logger: TestLogger.make("vane-sdk"))
    }

    private func createBooleanFlag(_ stack: SDKStack, project: String, key: String, trackEvents: Bool = false) async throws {
        try await stack.api("POST", "/projects/\(project)/flags",
            json: #"{"key":"\#(key)","name":"\#(key)","variations":[{"value":true},{"value":false}]}"#)
        try await stack.api(
            "PUT", "/projects/\(project)/flags/\(key)/environments/production",
            json: #"{"on":true,"fallthrough":{"variation":0},"offVariation":1,"trackEvents":\#(trackEvents)}"#)
    }

    @Test("a randomized corpus is evaluated exactly as LaunchDarkly's reference evaluates it (value, variation, reason)")
    func differentialCorpus() async throws {
        try await SDKStack.with { stack in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vane-sdk-corpus-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: directory) }
            let seed = ProcessInfo.processInfo.environment["VANE_SDK_DIFF_SEED"] ?? "11"
            let result = try await ChildProcess.run(
                RepositoryPaths.python,
                [
                    RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/sdk_corpus.py").path,
                    "--management", stack.stack.managementAPI.baseURL, "--token", stack.stack.adminToken, "--relay", stack.relay.baseURL,
                    "--out", directory.path, "--seed", seed, "--flags", "80", "--contexts", "50",
                ])
            try #require(result.status == 0, "sdk_corpus.py failed:\n\(result.standardOutput)\n\(result.standardError.suffix(3000))")
            let summary = try JSONParser.parse(result.standardOutput.split(separator: "\n").last.map(String.init) ?? "")
            print("sdk_corpus.py: \(summary)")
            let sdkKey = try #require(summary["sdkKey"]?.stringValue)

            let client = client(stack, sdkKey: sdkKey) { $0.sendEvents = false }
            try await client.start(timeout: .seconds(20))
            let contextsJSON = try JSONParser.parse(Data(contentsOf: directory.appendingPathComponent("contexts.json")))
            let contexts = try #require(contextsJSON.arrayValue)
            let lines = try String(contentsOf: directory.appendingPathComponent("expected.jsonl"), encoding: .utf8).split(separator: "\n")
            var compared = 0
            var mismatches: [String] = []
            for line in lines {
                let expected = try JSONParser.parse(String(line))
                let index = try #require(expected["context"]?.numberValue.map { Int($0) })
                let flag = try #require(expected["flag"]?.stringValue)
                let detail: EvaluationDetail
                do {
                    let context = try EvaluationContext(json: JSONWriter.string(contexts[index]))
                    detail = client.variationDetail(flag, context: context, default: .null)
                } catch {
                    // The SDK refuses to build an invalid context; LaunchDarkly reports USER_NOT_SPECIFIED.
                    detail = EvaluationDetail(value: .null, variationIndex: nil, reason: .error(.userNotSpecified))
                }
                var writer = JSONWriter()
                detail.reason.write(to: &writer)
                let expectedIndex = expected["variationIndex"]?.numberValue.map { Int($0) }
                if detail.value != expected["value"] ?? .null || detail.variationIndex != expectedIndex
                    || writer.string != expected["reasonJSON"]?.stringValue {
                    let got = "\(detail.value) \(String(describing: detail.variationIndex)) \(writer.string)"
                    mismatches.append("context \(index) flag \(flag): \(got) != \(line)")
                }
                compared += 1
            }
            #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
            #expect(compared > 1000, "compared \(compared) evaluations")
            print("VaneSDK corpus: \(compared) evaluations compared, \(mismatches.count) mismatches")
            await client.shutdown()
        }
    }

    @Test("a kill switch reaches flagChanges in under 500 ms; events reach vane.events.raw in LaunchDarkly's format")
    func killSwitchAndEvents() async throws {
        try await SDKStack.with { stack in
            let environment = try await stack.createProject("killswitch")
            try await createBooleanFlag(stack, project: "killswitch", key: "new-checkout", trackEvents: true)
            try await stack.waitForRelay(environment.sdkKey, containing: #""trackEvents":true"#)

            let client = client(stack, sdkKey: environment.sdkKey)
            try await client.start(timeout: .seconds(10))
            let context = try EvaluationContext.builder("u1").name("Ann").set("plan", "gold").build()
            #expect(client.boolVariation("new-checkout", context: context, default: false) == true)
            #expect(client.variationDetail("missing", context: context, default: "?").reason == .error(.flagNotFound))

            let changes = client.flagChanges
            let seen = Task { () -> ContinuousClock.Instant? in
                for await key in changes where key == "new-checkout" { return .now }
                return nil
            }
            let patched = ContinuousClock.now
            try await stack.api("PATCH", "/projects/killswitch/flags/new-checkout/environments/production", json: #"{"on":false}"#)
            let returned = ContinuousClock.now
            let seenAt = try #require(await seen.value)
            let latency = seenAt - patched
            print("kill switch: PATCH took \(returned - patched), seen by flagChanges \(latency) after the PATCH was sent")
            #expect(latency < .milliseconds(500))
            #expect(client.boolVariation("new-checkout", context: context, default: true) == false)

            client.track("purchase", context: context, data: ["sku": "x-1"], metricValue: 9.99)
            await client.shutdown()

            var records: [EventsRecord] = []
            try await eventually("the SDK's events on vane.events.raw") {
                records = try await stack.eventRecords(environmentID: environment.id)
                return records.contains { $0.events.contains { $0["kind"] == "custom" } }
            }
            let record = try #require(records.first { $0.events.contains { $0["kind"] == "custom" } })
            #expect(record.source == .server)
            #expect(record.userAgent.hasPrefix("VaneSwiftSDK/"))
            #expect(UUID(uuidString: record.payloadID) != nil, "the SDK's X-LaunchDarkly-Payload-ID is kept: \(record.payloadID)")
            let events = records.flatMap(\.events)
            let kinds = events.compactMap { $0["kind"]?.stringValue }
            #expect(Set(kinds).isSuperset(of: ["index", "feature", "custom", "summary"]), "\(kinds)")
            #expect(kinds.filter { $0 == "index" }.count == 1, "one index event for one context")
            let index = try #require(events.first { $0["kind"] == "index" })
            #expect(index["context"] == ["kind": "user", "key": "u1", "name": "Ann", "plan": "gold"])
            let features = events.filter { $0["kind"] == "feature" }
            #expect(features.map { $0["value"] } == [true, false], "the tracked flag before and after the kill switch")
            let first = features.first
            #expect(first?["version"]?.numberValue != nil && first?["variation"] == 0 && first?["default"] == false)
            let custom = try #require(events.first { $0["kind"] == "custom" })
            #expect(custom["key"] == "purchase" && custom["metricValue"] == 9.99 && custom["data"] == ["sku": "x-1"])
            let summary = try #require(events.first { $0["kind"] == "summary" })
            let counters = try #require(summary["features"]?["new-checkout"]?["counters"]?.arrayValue)
            #expect(counters.count == 2 && counters.allSatisfy { $0["count"] == 1 })
            #expect(summary["features"]?["missing"]?["counters"]?.arrayValue?.first?["unknown"] == true)
        }
    }

    @Test("with the relay stopped the client keeps serving; it reconnects when the relay is back and sees what changed")
    func relayRestart() async throws {
        try await SDKStack.with { stack in
            let environment = try await stack.createProject("restart")
            try await createBooleanFlag(stack, project: "restart", key: "f")
            try await stack.waitForRelay(environment.sdkKey, containing: #""on":true"#)
            let client = client(stack, sdkKey: environment.sdkKey) {
                $0.sendEvents = false
                $0.maxReconnectDelay = .seconds(2)
            }
            try await client.start(timeout: .seconds(10))
            let context = EvaluationContext.user("u")
            #expect(client.boolVariation("f", context: context, default: false) == true)

            await stack.stopRelay()
            try await Task.sleep(for: .seconds(1))
            #expect(client.boolVariation("f", context: context, default: false) == true, "the last data is still served")
            #expect(client.variationDetail("f", context: context, default: false).reason == .fallthrough())
            try await stack.api("PATCH", "/projects/restart/flags/f/environments/production", json: #"{"on":false}"#)

            let changes = client.flagChanges
            let started = ContinuousClock.now
            try await stack.restartRelay()
            let seen = Task { () -> Bool in
                for await key in changes where key == "f" { return true }
                return false
            }
            #expect(await seen.value)
            print("relay restart: change seen \(ContinuousClock.now - started) after the relay was started")
            #expect(client.boolVariation("f", context: context, default: true) == false)
            await client.shutdown()
        }
    }

    @Test("an unknown SDK key stops the client with a clear error; polling (with ETag) and a data file work too")
    func unauthorizedPollingAndFile() async throws {
        try await SDKStack.with { stack in
            let refused = client(stack, sdkKey: "sdk-00000000-0000-0000-0000-000000000000")
            let started = ContinuousClock.now
            await #expect(throws: VaneError.self) { try await refused.start(timeout: .seconds(10)) }
            do {
                try await refused.start(timeout: .seconds(10))
            } catch let error as VaneError {
                #expect(error.code == .unauthorized, "\(error)")
                #expect(error.message.contains("refused the SDK key"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(5), "a 401 is not retried")
            #expect(refused.boolVariation("any", context: .user("u"), default: true) == true)
            await refused.shutdown()

            let environment = try await stack.createProject("polling")
            try await createBooleanFlag(stack, project: "polling", key: "p")
            try await stack.waitForRelay(environment.sdkKey, containing: #""on":true"#)
            let polling = client(stack, sdkKey: environment.sdkKey) {
                $0.dataSource = .polling(interval: .seconds(1))
                $0.sendEvents = false
            }
            try await polling.start(timeout: .seconds(10))
            #expect(polling.boolVariation("p", context: .user("u"), default: false) == true)
            try await stack.api("PATCH", "/projects/polling/flags/p/environments/production", json: #"{"on":false}"#)
            try await eventually("the poll sees the change") { polling.boolVariation("p", context: .user("u"), default: true) == false }
            await polling.shutdown()

            let payload = try await TestHTTP.request(
                "GET", "\(stack.relay.baseURL)/sdk/latest-all", headers: [("Authorization", environment.sdkKey)])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-sdk-data-\(UUID().uuidString.prefix(8)).json")
            try Data(payload.body).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let offline = VaneClient(
                sdkKey: "unused", baseURL: URL(string: "http://127.0.0.1:9")!, eventsURL: nil,
                configuration: VaneConfiguration(dataSource: .file(file)))
            try await offline.start(timeout: .seconds(1))
            let offlineDetail = offline.variationDetail("p", context: .user("u"), default: true)
            #expect(offlineDetail == EvaluationDetail(value: false, variationIndex: 1, reason: .off))
            await offline.shutdown()
        }
    }
}
