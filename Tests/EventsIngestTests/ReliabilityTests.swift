import Foundation
import Testing
import TestSupport

@Suite(
    "events-ingest through broker outages and shutdown", .serialized, .timeLimit(.minutes(3)),
    .ingestStack(["VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "2"]))
struct ReliabilityTests {
    @Test("broker down: 503 with Retry-After and nothing accepted; back up: a retry is accepted; every 202 is on the topic once")
    func brokerOutage() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        func send(_ id: String) async throws -> HTTPResult {
            try await stack.post("/bulk", key: environment.sdkKey, body: sampleBatch(tag: id), headers: [("X-LaunchDarkly-Payload-ID", id)])
        }
        var accepted: [String] = []
        for index in 0..<3 {
            #expect(try await send("before-\(index)").status == 202)
            accepted.append("before-\(index)")
        }

        try await stack.kafka.brokerDown(.all)
        // One request waits for the delivery timeout and fails; the others, refused while it probes
        // Kafka or after it failed, must not pile up.
        let during = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
            for index in 0..<6 {
                group.addTask {
                    try await Task.sleep(for: .milliseconds(150 * index))
                    return try await send("down-\(index)")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for response in during {
            #expect(response.status == 503)
            #expect(Int(response.header("Retry-After") ?? "") ?? 0 >= 1)
            try expectJSONError(response, code: "unavailable")
        }

        try await stack.kafka.brokerUp(.all)
        // The SDK's retry: the same payload id, until Kafka takes it.
        let deadline = ContinuousClock.now + .seconds(40)
        var retried = false
        while ContinuousClock.now < deadline {
            let response = try await send("down-0")
            if response.status == 202 {
                retried = true
                break
            }
            #expect(response.status == 503)
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(retried, "a retry was accepted once the broker was back:\n\(stack.ingest.logTail())")
        accepted.append("down-0")
        #expect(try await send("after-0").status == 202)
        accepted.append("after-0")

        let stored = try await stack.records(environmentID: environment.id).map(\.record.payloadID)
        #expect(stored.sorted() == accepted.sorted(), "exactly the accepted batches, each once")
    }

    @Test("a slow broker with the in-flight budget spent: further batches are refused at once with 503, none of them written")
    func overload() async throws {
        let stack = try currentStack()
        let ingest = try await stack.startIngest(environment: ["VANE_EVENTS_MAX_IN_FLIGHT_BATCHES": "2"])
        defer { ingest.stopBlocking() }
        let environment = try await stack.createEnvironment(knownTo: ingest)
        try await stack.kafka.control("rtt all 1000")
        let results = try await withThrowingTaskGroup(of: (String, HTTPResult).self) { group in
            for index in 0..<6 {
                group.addTask {
                    let id = "burst-\(index)"
                    return (id, try await stack.post(
                        "/bulk", to: ingest, key: environment.sdkKey, body: sampleBatch(tag: id),
                        headers: [("X-LaunchDarkly-Payload-ID", id)]))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await stack.kafka.control("rtt all 0")
        let accepted = results.filter { $0.1.status == 202 }.map(\.0)
        let refused = results.filter { $0.1.status == 503 }
        // Two batches fit the budget; the rest arrive while those wait on the slow broker (unless the
        // test machine delays a request by more than the broker's second).
        #expect(!accepted.isEmpty && refused.count >= 3, "\(results.map { ($0.0, $0.1.status) })")
        #expect(accepted.count + refused.count == 6)
        for (_, response) in refused {
            #expect(response.header("Retry-After") == "1")
            try expectJSONError(response, code: "unavailable")
        }
        let stored = try await stack.records(environmentID: environment.id).map(\.record.payloadID)
        #expect(stored.sorted() == accepted.sorted())
    }

    @Test("SIGTERM under load: requests in flight finish; each got 202 and is on the topic, or did not get 202")
    func shutdownUnderLoad() async throws {
        let stack = try currentStack()
        let ingest = try await stack.startIngest()
        let environment = try await stack.createEnvironment(knownTo: ingest)
        let outcomes = Locked<[(id: String, status: Int?)]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<8 {
                group.addTask {
                    for index in 0..<5_000 {
                        let id = "load-\(sender)-\(index)"
                        let status = try? await stack.post(
                            "/bulk", to: ingest, key: environment.sdkKey, body: sampleBatch(count: 20, tag: id),
                            headers: [("X-LaunchDarkly-Payload-ID", id)],
                            // After the signal the client retries refused connects until this timeout.
                            timeout: .seconds(3)
                        ).status
                        outcomes.withLock { $0.append((id, status)) }
                        if status != 202 { return }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(1500))
                kill(ingest.processIdentifier, SIGTERM)
            }
            try await group.waitForAll()
        }
        let exitDeadline = ContinuousClock.now + .seconds(30)
        while ingest.isRunning, ContinuousClock.now < exitDeadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!ingest.isRunning)
        #expect(await ingest.stop() == 0, "clean exit:\n\(ingest.logTail())")

        let results = outcomes.value
        let acceptedIDs = results.filter { $0.status == 202 }.map(\.id)
        #expect(acceptedIDs.count >= 8, "the load ran before the signal")
        #expect(results.allSatisfy { $0.status == nil || $0.status == 202 || $0.status == 503 }, "\(Set(results.map(\.status)))")

        var stored: [String: Int] = [:]
        for record in try await stack.records(environmentID: environment.id) { stored[record.record.payloadID, default: 0] += 1 }
        let missing = acceptedIDs.filter { stored[$0] != 1 }
        #expect(missing.isEmpty, "answered 202 but not on the topic exactly once: \(missing.prefix(10))")
        #expect(stored.values.allSatisfy { $0 == 1 })
    }
}
