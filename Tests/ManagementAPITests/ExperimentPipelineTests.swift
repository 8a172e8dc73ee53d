import ExperimentStats
import Foundation
import ModelsCore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// An experiment fed through the real pipeline: SDK event batches posted to events-ingest, counted by
/// events-processor (SIGKILLed and restarted half-way), read by management-api's results. The numbers must equal
/// what the raw events imply under the definitions of docs/experiments.md.
@Suite("management-api: experiment results through events-ingest and events-processor", .serialized, .timeLimit(.minutes(4)))
struct ExperimentPipelineTests {
    @Test("windows, exposures before and after start in one hour, goals before the exposure, duplicates, SIGKILL, two iterations")
    func pipeline() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            let project = try await api.expect(200, "GET", "/projects/shop")
            let production = try #require(project["environments"]?.arrayValue?.first { $0["key"] == "production" })
            let environmentID = try #require(production["id"]?.stringValue).lowercased()
            let sdkKey = try #require(production["sdkKey"]?.stringValue)
            try await api.expect(201, "POST", "/projects/shop/flags",
                                 #"{"key":"checkout","name":"Checkout","variations":[{"value":"a"},{"value":"b"},{"value":"c"}]}"#)
            try await api.expect(201, "POST", "/projects/shop/experiments", #"""
                {"key":"checkout-test","name":"Checkout test","flagKey":"checkout","environmentKey":"production","controlVariation":0,
                 "metrics":[{"key":"purchase","type":"proportion"},{"key":"revenue","type":"mean"}]}
                """#)

            let ingest = try ServiceProcess("events-ingest", environment: [
                "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_CONFIG_TOPIC": api.stack.configTopic, "VANE_LOG_LEVEL": "info",
                "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
            ])
            defer { _ = ingest.stopBlocking() }
            try await ingest.waitUntilReady()
            let processorEnvironment = [
                "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
                "VANE_CONSUMER_GROUP": "experiments-\(UUID().uuidString.prefix(8))", "VANE_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
                "VANE_CORRELATION_DELAY_SECONDS": "1", "VANE_CHUNK_MAX_AGE_SECONDS": "0.2", "VANE_FINALIZE_INTERVAL_SECONDS": "0.3",
            ]
            var processor = try ServiceProcess("events-processor", environment: processorEnvironment)
            defer { _ = processor.stopBlocking() }
            try await processor.waitUntilReady()

            // The iteration: [start, stop), about 1.5 s wide; events are placed around it by their creationDate.
            let started = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            try await Task.sleep(for: .milliseconds(1500))
            let stopped = try await api.expect(200, "POST", "/projects/shop/experiments/checkout-test/stop")
            let start = Int64(try #require(started["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))
            let stop = Int64(try #require(stopped["stop"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))

            var generator = SplitMix64(seed: 23)
            var batches: [[JSONValue]] = []
            var data = CorrelationData()
            for batchIndex in 0..<6 {
                var events: [JSONValue] = []
                for index in 0..<40 {
                    let key = "u\(batchIndex)-\(index % 25)"  // some contexts appear in several events of a batch
                    let context: JSONValue = ["kind": "user", "key": .string(key)]
                    // Contexts 0-4 are exposed before start and again inside, in the same batch (the same receipt hour):
                    // they count with the inside exposure's variation. Contexts 20-24 are exposed only before start: they
                    // are not in the iteration.
                    let exposureAt: Int64
                    if (index % 25 < 5 && index < 25) || index % 25 >= 20 {
                        exposureAt = start - Int64.random(in: 1...5_000, using: &generator)
                    } else if index % 25 < 5 {
                        exposureAt = start + Int64.random(in: 0..<(stop - start), using: &generator)
                    } else if Int.random(in: 0..<5, using: &generator) == 0 {
                        exposureAt = stop + Int64.random(in: 0...5_000, using: &generator)  // after stop: not counted
                    } else {
                        exposureAt = start + Int64.random(in: 0..<(stop - start), using: &generator)
                    }
                    let variation = Int.random(in: 0..<3, using: &generator)
                    events.append([
                        "kind": "feature", "creationDate": .number(Double(exposureAt)), "key": "checkout", "version": 1,
                        "variation": .number(Double(variation)), "value": .string(["a", "b", "c"][variation]), "default": "a",
                        "context": context,
                    ])
                    data.exposures.append(CorrelationData.Exposure(
                        environment: environmentID, kind: "user", key: key, flag: "checkout", at: exposureAt, variation: variation,
                        hour: 0, isFinal: true))
                    for metric in ["purchase", "revenue"] where Bool.random(using: &generator) {
                        // Goals from 2 s before the exposure (not attributed) to after stop (not counted).
                        let at = exposureAt + Int64.random(in: -2_000...3_000, using: &generator)
                        let cents = Int.random(in: 1...99_999, using: &generator)
                        var event: [String: JSONValue] = ["kind": "custom", "creationDate": .number(Double(at)), "key": .string(metric),
                                                          "context": context]
                        if metric == "revenue" { event["metricValue"] = .number(Double(cents) / 100) }
                        events.append(.object(event))
                        data.goals.append(CorrelationData.Goal(
                            environment: environmentID, kind: "user", key: key, metric: metric, at: at, hour: 0, isFinal: true,
                            events: 1, cents: metric == "revenue" ? cents : 0))
                    }
                }
                batches.append(events)
            }

            func post(_ events: [JSONValue], payloadID: String) async throws {
                let response = try await TestHTTP.request(
                    "POST", "\(ingest.baseURL)/bulk",
                    headers: [("Authorization", sdkKey), ("Content-Type", "application/json"), ("X-LaunchDarkly-Event-Schema", "4"),
                              ("X-LaunchDarkly-Payload-ID", payloadID)],
                    body: Array(JSONWriter.string(.array(events)).utf8))
                #expect(response.status == 202, "\(response.status): \(response.text)")
            }
            // events-ingest learns the environment's keys from vane.config: wait until it accepts the SDK key.
            let deadline = ContinuousClock.now + .seconds(30)
            let probe = Array(#"[{"kind":"identify","creationDate":1,"context":{"kind":"user","key":"probe"}}]"#.utf8)
            while try await TestHTTP.request(
                "POST", "\(ingest.baseURL)/bulk", headers: [("Authorization", sdkKey), ("Content-Type", "application/json")], body: probe
            ).status != 202 {
                guard ContinuousClock.now < deadline else { Issue.record("events-ingest never accepted the SDK key"); return }
                try await Task.sleep(for: .milliseconds(100))
            }
            let ids = batches.indices.map { _ in UUID().uuidString.lowercased() }
            for index in 0..<3 { try await post(batches[index], payloadID: ids[index]) }
            try await post(batches[1], payloadID: ids[1])  // an SDK retry: the same payload again
            // A crash: SIGKILL, more batches meanwhile, then a new processor that resumes from the stored offsets.
            _ = await processor.stop(signal: SIGKILL)
            for index in 3..<6 { try await post(batches[index], payloadID: ids[index]) }
            try await post(batches[4], payloadID: ids[4])
            processor = try ServiceProcess("events-processor", environment: processorEnvironment)
            try await processor.waitUntilReady()

            let expected = data.expected(environment: environmentID, flag: "checkout", start: start, stop: stop)
            let exposedTotal = Double(expected.exposed.values.reduce(0, +))
            #expect(exposedTotal > 50)
            /// Waits until the results of `path` reach the expected totals (fresh within the correlation delay).
            func settled(_ path: String, _ expected: CorrelationData.Expected) async throws -> JSONValue {
                var results: JSONValue = .null
                let until = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < until {
                    results = try await api.expect(200, "GET", path)
                    let n = results["metrics"]?[1]?["variations"]?.arrayValue?.compactMap { $0["n"]?.numberValue }.reduce(0, +) ?? 0
                    let sum = results["metrics"]?[1]?["variations"]?.arrayValue?.compactMap { $0["sum"]?.numberValue }.reduce(0, +) ?? 0
                    let wanted = expected.values["revenue"]?.values.flatMap { $0 }.reduce(0, +) ?? 0
                    if n == Double(expected.exposed.values.reduce(0, +)), ExperimentTests.close(sum, wanted) { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                return results
            }
            let firstPath = "/projects/shop/experiments/checkout-test/results?iteration=1"
            try ExperimentTests.check(try await settled(firstPath, expected), against: expected, weights: [1, 1, 1])
            // Replays of the same state after the correlation delay (finalization) give the same numbers.
            try await Task.sleep(for: .seconds(2))
            try ExperimentTests.check(try await api.expect(200, "GET", firstPath), against: expected, weights: [1, 1, 1])

            // A second iteration: contexts of the first one and new ones, each exposed shortly before the new start and
            // again after it in the same batch; one batch is re-sent.
            let second = try await api.expect(201, "POST", "/projects/shop/experiments/checkout-test/start")
            let secondStart = Int64(try #require(second["start"]?.stringValue.flatMap(rfc3339UnixMilliseconds)))
            try await Task.sleep(for: .milliseconds(1000))
            var secondBatches: [[JSONValue]] = []
            for batchIndex in 0..<2 {
                var events: [JSONValue] = []
                for index in 0..<30 {
                    let key = index < 10 ? "u\(batchIndex)-\(index)" : "v\(batchIndex)-\(index)"
                    let context: JSONValue = ["kind": "user", "key": .string(key)]
                    for at in [secondStart - Int64.random(in: 1...1_500, using: &generator),  // after the first stop (2 s ago)
                               secondStart + Int64.random(in: 0..<1_000, using: &generator)] {
                        let variation = Int.random(in: 0..<3, using: &generator)
                        events.append([
                            "kind": "feature", "creationDate": .number(Double(at)), "key": "checkout", "version": 1,
                            "variation": .number(Double(variation)), "value": .string(["a", "b", "c"][variation]), "default": "a",
                            "context": context,
                        ])
                        data.exposures.append(CorrelationData.Exposure(
                            environment: environmentID, kind: "user", key: key, flag: "checkout", at: at, variation: variation,
                            hour: 0, isFinal: true))
                    }
                    let at = secondStart + Int64.random(in: 0..<1_000, using: &generator)
                    let cents = Int.random(in: 1...99_999, using: &generator)
                    events.append(["kind": "custom", "creationDate": .number(Double(at)), "key": "revenue", "context": context,
                                   "metricValue": .number(Double(cents) / 100)])
                    data.goals.append(CorrelationData.Goal(
                        environment: environmentID, kind: "user", key: key, metric: "revenue", at: at, hour: 0, isFinal: true,
                        events: 1, cents: cents))
                }
                secondBatches.append(events)
            }
            let secondIDs = secondBatches.indices.map { _ in UUID().uuidString.lowercased() }
            for index in secondBatches.indices { try await post(secondBatches[index], payloadID: secondIDs[index]) }
            try await post(secondBatches[0], payloadID: secondIDs[0])
            let expectedSecond = data.expected(environment: environmentID, flag: "checkout", start: secondStart, stop: .max)
            #expect(expectedSecond.exposed.values.reduce(0, +) >= 60)
            let current = try await settled("/projects/shop/experiments/checkout-test/results", expectedSecond)
            #expect(current["iteration"]?["number"] == 2)
            try ExperimentTests.check(current, against: expectedSecond, weights: [1, 1, 1])
            // The first iteration is unchanged (its window ended before these exposures).
            #expect(data.expected(environment: environmentID, flag: "checkout", start: start, stop: stop).exposed == expected.exposed)
            try ExperimentTests.check(try await api.expect(200, "GET", firstPath), against: expected, weights: [1, 1, 1])
            _ = await processor.stop()
            _ = await ingest.stop()
        }
    }
}
