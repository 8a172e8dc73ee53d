import Foundation
import ModelsCore
import Testing
import TestSupport

/// Guarded rollouts fed through the real pipeline: SDK event batches (exposures of the variations the flag really
/// serves, and error events) posted to events-ingest and counted by events-processor; the scheduler's guard reads them.
@Suite("management-api: guarded rollouts through events-ingest and events-processor", .serialized, .timeLimit(.minutes(4)))
struct ReleaseGuardTests {
    @Test("2 % → 40 % errors rolls back automatically within a minute (audited); equal arms keep running")
    func guardedRollback() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            let project = try await api.expect(200, "GET", "/projects/shop")
            let production = try #require(project["environments"]?.arrayValue?.first { $0["key"] == "production" })
            let sdkKey = try #require(production["sdkKey"]?.stringValue)
            for flag in ["checkout", "calm"] {
                try await api.expect(201, "POST", "/projects/shop/flags",
                    #"{"key":"\#(flag)","name":"F","variations":[{"value":"old"},{"value":"new"}]}"#)
                try await api.expect(200, "PATCH", "/projects/shop/flags/\(flag)/environments/production", #"{"on":true}"#)
            }

            let ingest = try ServiceProcess("events-ingest", environment: [
                "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_CONFIG_TOPIC": api.stack.configTopic, "VANE_LOG_LEVEL": "info",
                "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
            ])
            defer { _ = ingest.stopBlocking() }
            try await ingest.waitUntilReady()
            let processor = try ServiceProcess("events-processor", environment: [
                "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
                "VANE_CONSUMER_GROUP": "guards-\(UUID().uuidString.prefix(8))", "VANE_CORRELATION_DELAY_SECONDS": "1",
                "VANE_CHUNK_MAX_AGE_SECONDS": "0.2", "VANE_FINALIZE_INTERVAL_SECONDS": "0.3",
            ])
            defer { _ = processor.stopBlocking() }
            try await processor.waitUntilReady()

            for (flag, metric) in [("checkout", "errors"), ("calm", "calm-errors")] {
                try await api.expect(201, "POST", "/projects/shop/flags/\(flag)/environments/production/rollouts", #"""
                    {"variation":1,"steps":[{"percent":50,"holdSeconds":600},{"percent":100,"holdSeconds":0}],
                     "guard":{"metric":"\#(metric)","type":"proportion","higherIsBetter":false,"minContexts":100}}
                    """#)
            }
            // The experiments API does not list the guards' internal experiments.
            #expect(try await api.expect(200, "GET", "/projects/shop/experiments")["items"] == [])

            // What the SDKs are served now, evaluated with LaunchDarkly's semantics from the published payload.
            let payload = try PollingPayload(json: try await api.expect(200, "GET", "/projects/shop/environments/production/data"))
            let data = EvaluationData(payload)
            func events(flag: String, metric: String, prefix: String, errorRate: (Int) -> Bool) -> (events: [JSONValue], arms: [Int: Int]) {
                var events: [JSONValue] = []
                var arms: [Int: Int] = [:]
                let now = Double(Int(Date().timeIntervalSince1970 * 1000))
                for index in 0..<700 {
                    let key = "\(prefix)-\(index)"
                    let detail = data.evaluate(flagKey: flag, context: .user(key))
                    guard let variation = detail.variationIndex else { continue }
                    arms[variation, default: 0] += 1
                    let context: JSONValue = ["kind": "user", "key": .string(key)]
                    events.append([
                        "kind": "feature", "creationDate": .number(now), "key": .string(flag),
                        "version": .number(Double(payload.flags[flag]?.version ?? 1)),
                        "variation": .number(Double(variation)), "value": detail.value, "default": "old", "context": context,
                    ])
                    // Control: 2 % of contexts send an error; the new variation: 40 % (or 2 % for equal arms).
                    if variation == 0 ? index % 50 == 0 : errorRate(index) {
                        events.append(["kind": "custom", "creationDate": .number(now + 5), "key": .string(metric), "context": context])
                    }
                }
                return (events, arms)
            }
            let bad = events(flag: "checkout", metric: "errors", prefix: "u") { $0 % 5 < 2 }
            let calm = events(flag: "calm", metric: "calm-errors", prefix: "q") { $0 % 50 == 0 }
            #expect((bad.arms[1] ?? 0) > 250 && (bad.arms[0] ?? 0) > 250, "\(bad.arms)")

            // events-ingest learns the environment's keys from vane.config: wait until it accepts the SDK key.
            let probe = Array(#"[{"kind":"identify","creationDate":1,"context":{"kind":"user","key":"probe"}}]"#.utf8)
            _ = try await ReleaseTestSupport.waitFor("events-ingest to accept the SDK key", timeout: .seconds(30)) {
                let status = try await TestHTTP.request(
                    "POST", "\(ingest.baseURL)/bulk", headers: [("Authorization", sdkKey), ("Content-Type",
                        "application/json")], body: probe
                ).status
                guard status == 202 else { return nil }
                return true
            }
            for batch in [bad.events, calm.events] {
                let response = try await TestHTTP.request(
                    "POST", "\(ingest.baseURL)/bulk",
                    headers: [("Authorization", sdkKey), ("Content-Type", "application/json"), ("X-LaunchDarkly-Event-Schema", "4"),
                              ("X-LaunchDarkly-Payload-ID", UUID().uuidString.lowercased())],
                    body: Array(JSONWriter.string(.array(batch)).utf8))
                #expect(response.status == 202, "\(response.status): \(response.text)")
            }
            let sent = ContinuousClock.now

            let rolledBack = try await ReleaseTestSupport.waitFor("the guard to roll back", timeout: .seconds(60),
                every: .milliseconds(250)) {
                let current = try await api.expect(200, "GET", "/projects/shop/flags/checkout/environments/production/rollouts/current")
                if current["status"] == "running" { return nil }
                return current
            }
            if rolledBack == nil {
                let current = try await api.expect(200, "GET", "/projects/shop/flags/checkout/environments/production/rollouts/current")
                Issue.record("the rollout: \(current)\nprocessor log:\n\(processor.logTail())")
            }
            let rollout = try #require(rolledBack)
            #expect(ContinuousClock.now - sent < .seconds(60))
            #expect(rollout["status"] == "rolled_back")
            let decision = try #require(rollout["decision"])
            #expect(decision["action"] == "rollback")
            #expect(decision["automatic"] == true)
            #expect((decision["pValue"]?.numberValue ?? 1) < 0.05)
            #expect(decision["treatment"]?["n"]?.numberValue == Double(bad.arms[1] ?? 0))
            #expect(decision["control"]?["n"]?.numberValue == Double(bad.arms[0] ?? 0))
            #expect(try await api.expect(200, "GET",
                "/projects/shop/flags/checkout/environments/production")["fallthrough"] == ["variation": 0])
            let audit = try await ReleaseTestSupport.audit(api, project: "shop", flag: "checkout")
            let entry = try #require(audit.first { $0["action"] == "release.rollout.rollback" })
            #expect(entry["actor"] == "release-scheduler")
            let comment = entry["comment"]?.stringValue ?? ""
            #expect(comment.contains(rollout["id"]?.stringValue ?? "?") && comment.contains("automatically") && comment.contains("errors"),
                    "\(comment)")

            // Equal arms: the guard has seen every context (both arms above minContexts) and lets the rollout run.
            let looked = try await ReleaseTestSupport.waitFor("the equal-arms guard to see every context", timeout: .seconds(30)) {
                let current = try await api.expect(200, "GET", "/projects/shop/flags/calm/environments/production/rollouts/current")
                let n = (current["decision"]?["control"]?["n"]?.numberValue ?? 0)
                    + (current["decision"]?["treatment"]?["n"]?.numberValue ?? 0)
                guard n == Double(calm.arms.values.reduce(0, +)) else { return nil }
                return current
            }
            #expect(looked?["decision"]?["action"] == "proceed")
            try await Task.sleep(for: .seconds(5))  // two more looks
            let still = try await api.expect(200, "GET", "/projects/shop/flags/calm/environments/production/rollouts/current")
            #expect(still["status"] == "running")
            #expect(still["decision"]?["action"] == "proceed")
            _ = await processor.stop()
            _ = await ingest.stop()
        }
    }

    @Test("the LaunchDarkly Python SDK through the relay and events-ingest: 2 % → 40 % errors rolls back within a minute")
    func guardedRollbackFromThePythonSDK() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            let project = try await api.expect(200, "GET", "/projects/shop")
            let production = try #require(project["environments"]?.arrayValue?.first { $0["key"] == "production" })
            let sdkKey = try #require(production["sdkKey"]?.stringValue)
            try await api.expect(201, "POST", "/projects/shop/flags",
                #"{"key":"checkout","name":"F","variations":[{"value":"old"},{"value":"new"}]}"#)
            try await api.expect(200, "PATCH", "/projects/shop/flags/checkout/environments/production", #"{"on":true}"#)

            let relay = try ServiceProcess("relay-streamer", environment: [
                "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_CONFIG_TOPIC": api.stack.configTopic, "VANE_LOG_LEVEL": "info",
            ])
            defer { _ = relay.stopBlocking() }
            let ingest = try ServiceProcess("events-ingest", environment: [
                "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_CONFIG_TOPIC": api.stack.configTopic, "VANE_LOG_LEVEL": "info",
                "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
            ])
            defer { _ = ingest.stopBlocking() }
            let processor = try ServiceProcess("events-processor", environment: [
                "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
                "VANE_CONSUMER_GROUP": "guards-\(UUID().uuidString.prefix(8))", "VANE_CORRELATION_DELAY_SECONDS": "1",
                "VANE_CHUNK_MAX_AGE_SECONDS": "0.2", "VANE_FINALIZE_INTERVAL_SECONDS": "0.3",
            ])
            defer { _ = processor.stopBlocking() }
            try await relay.waitUntilReady()
            try await ingest.waitUntilReady()
            try await processor.waitUntilReady()
            // events-ingest learns the environment's keys from vane.config: wait until it accepts the SDK key.
            let probe = Array(#"[{"kind":"identify","creationDate":1,"context":{"kind":"user","key":"probe"}}]"#.utf8)
            _ = try await ReleaseTestSupport.waitFor("events-ingest to accept the SDK key", timeout: .seconds(30)) {
                let status = try await TestHTTP.request(
                    "POST", "\(ingest.baseURL)/bulk", headers: [("Authorization", sdkKey), ("Content-Type",
                        "application/json")], body: probe
                ).status
                guard status == 202 else { return nil }
                return true
            }

            let started = try await api.expect(201, "POST", "/projects/shop/flags/checkout/environments/production/rollouts", #"""
                {"variation":1,"steps":[{"percent":10,"holdSeconds":600},{"percent":50,"holdSeconds":600},{"percent":100,"holdSeconds":0}],
                 "guard":{"metric":"errors","type":"proportion","higherIsBetter":false}}
                """#)
            let id = try #require(started["id"]?.stringValue)
            // 1,500 contexts at the 10 % step: about 150 get the new variation (above the default minContexts of 100).
            let result = try await ChildProcess.run(RepositoryPaths.python, [
                RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/release_guard.py").path,
                "--relay", relay.baseURL, "--events", ingest.baseURL, "--sdk-key", sdkKey, "--flag", "checkout", "--metric", "errors",
                "--contexts", "1500",
            ])
            let summaryLine = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
            #expect(result.status == 0, "release_guard.py: \(result.standardOutput.suffix(2000))\n\(result.standardError.suffix(2000))")
            print("release_guard.py: \(summaryLine)")
            let summary = try JSONParser.parse(Array(summaryLine.utf8))
            #expect(summary["inExperiment"]?.numberValue == 1500)
            let sent = ContinuousClock.now

            let rolledBack = try await ReleaseTestSupport.waitFor("the guard to roll back", timeout: .seconds(60),
                every: .milliseconds(250)) {
                let current = try await api.expect(200, "GET", "/projects/shop/flags/checkout/environments/production/rollouts/current")
                if current["status"] == "running" { return nil }
                return current
            }
            if rolledBack == nil {
                let current = try await api.expect(200, "GET", "/projects/shop/flags/checkout/environments/production/rollouts/current")
                Issue.record("the rollout: \(current)\nprocessor log:\n\(processor.logTail())\ningest log:\n\(ingest.logTail())")
            }
            let rollout = try #require(rolledBack)
            print("guard rolled back \(ContinuousClock.now - sent) after the SDK flushed its events")
            #expect(rollout["status"] == "rolled_back")
            #expect(rollout["decision"]?["action"] == "rollback")
            // Every context the SDK evaluated is in an arm (the script's 1,500 and its probe).
            let arms = ["control", "treatment"].compactMap { rollout["decision"]?[$0]?["n"]?.numberValue }
            #expect(arms.reduce(0, +) == 1501, "\(arms)")
            #expect((rollout["decision"]?["treatment"]?["n"]?.numberValue ?? 0) >= summary["served"]?["1"]?.numberValue ?? 1)
            let audit = try await ReleaseTestSupport.audit(api, project: "shop", flag: "checkout")
            let entry = try #require(audit.first { $0["action"] == "release.rollout.rollback" })
            #expect(entry["actor"] == "release-scheduler")
            #expect(entry["comment"]?.stringValue?.contains("rollout \(id) rolled back automatically") == true)
            #expect(try await api.expect(200, "GET",
                "/projects/shop/flags/checkout/environments/production")["fallthrough"] == ["variation": 0])
            _ = await processor.stop()
            _ = await ingest.stop()
        }
    }
}
