import Foundation
import ModelsCore
import Testing
import TestSupport

/// relay-streamer as a process, fed by management-api through dev-kafka, checked with LaunchDarkly's
/// Python SDK and the OpenFeature OFREP provider (`Tests/Compatibility/relay_compat.py`).
@Suite("Relay end to end", .serialized, .timeLimit(.minutes(5)))
struct EndToEndTests {
    /// Starts a relay process against the stack.
    private func startRelay(_ stack: TestStack, environment: [String: String] = [:]) throws -> ServiceProcess {
        var variables = [
            "VANE_KAFKA_BROKERS": stack.kafkaBrokers, "VANE_CONFIG_TOPIC": stack.configTopic, "VANE_LOG_LEVEL": "info",
            "VANE_RELAY_HEARTBEAT_SECONDS": "1",
        ]
        for (key, value) in environment { variables[key] = value }
        return try ServiceProcess("relay-streamer", environment: variables)
    }

    /// Runs `relay_compat.py <command>`; returns its JSON summary, failing the test with its output.
    private func compat(_ command: String, _ stack: TestStack, relay: ServiceProcess, arguments: [String] = []) async throws -> JSONValue? {
        let result = try await ChildProcess.run(
            RepositoryPaths.python,
            [
                RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/relay_compat.py").path, command,
                "--management", stack.managementAPI.baseURL, "--token", stack.adminToken, "--relay", relay.baseURL,
                "--vanectl", RepositoryPaths.executable("vanectl").path,
            ] + arguments)
        guard result.status == 0 else {
            Issue.record("""
                relay_compat.py \(command) failed:\n\(result.standardOutput)\n\(result.standardError.suffix(3000))\n\
                relay log:\n\(relay.logTail())
                """)
            return nil
        }
        let summary = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
        print("relay_compat.py \(command): \(summary)")
        return try? JSONParser.parse(summary)
    }

    @Test("the Python SDK (streaming and polling), evalx and OFREP through the relay; kill switch, deletion, key rotation")
    func scenario() async throws {
        try await withStack { stack in
            let relay = try startRelay(stack)
            defer { relay.stopBlocking() }
            try await relay.waitUntilReady()
            let summary = try await compat("scenario", stack, relay: relay)
            let millis = try #require(summary?["killSwitchMillis"]?.numberValue, "the scenario reports the kill-switch latency")
            #expect(millis < 200, "a kill switch must reach a connected SDK within 200 ms (took \(millis) ms)")
        }
    }

    @Test("schemathesis with the official OFREP document finds no non-conforming OFREP response")
    func ofrepConformance() async throws {
        try await withStack { stack in
            let relay = try startRelay(stack)
            defer { relay.stopBlocking() }
            try await relay.waitUntilReady()
            let seed = ProcessInfo.processInfo.environment["VANE_OFREP_CONFORMANCE_SEED"] ?? "20261205"
            let examples = ProcessInfo.processInfo.environment["VANE_OFREP_CONFORMANCE_EXAMPLES"] ?? "40"
            let summary = try await compat("ofrep-conformance", stack, relay: relay, arguments: ["--seed", seed, "--examples", examples])
            #expect(summary?["flags"]?.numberValue == 9)
        }
    }

    @Test("a randomized corpus created through management-api is evaluated identically everywhere")
    func differential() async throws {
        try await withStack { stack in
            let relay = try startRelay(stack)
            defer { relay.stopBlocking() }
            try await relay.waitUntilReady()
            let seed = Int(ProcessInfo.processInfo.environment["VANE_RELAY_DIFFERENTIAL_SEED"] ?? "") ?? 7
            let flags = Int(ProcessInfo.processInfo.environment["VANE_RELAY_DIFFERENTIAL_FLAGS"] ?? "") ?? 60
            _ = try await compat("differential", stack, relay: relay, arguments: ["--seed", "\(seed)", "--flags",
                "\(flags)", "--contexts", "40"])
        }
    }

    @Test("with the broker stopped the relay keeps serving; a relay started with management-api down becomes ready from Kafka")
    func resilience() async throws {
        try await withStack { stack in try await resilience(stack) }
    }

    private func resilience(_ stack: TestStack) async throws {
        let project = try await stack.api("POST", "/projects", json: #"{"key":"resilience","name":"Resilience"}"#)
        let environment = try #require(try JSONParser.parse(project.body)["environments"]?.arrayValue?.first { $0["key"] == "production" })
        let sdkKey = try #require(environment["sdkKey"]?.stringValue)
        _ = try await stack.api("POST", "/projects/resilience/flags",
            json: #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
        _ = try await stack.api("PUT", "/projects/resilience/flags/f/environments/production",
            json: #"{"on":true,"fallthrough":{"variation":0}}"#)

        let relay = try startRelay(stack)
        defer { relay.stopBlocking() }
        try await relay.waitUntilReady()
        let poll = { try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)]) }
        try await eventually { try await poll().text.contains(#""on":true"#) }

        // The management plane goes away: a new relay still builds its state from the changelog.
        await stack.managementAPI.stop()
        let second = try startRelay(stack)
        defer { second.stopBlocking() }
        try await second.waitUntilReady()
        let fromKafka = try await TestHTTP.request("GET", "\(second.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)])
        #expect(fromKafka.status == 200)
        #expect(fromKafka.text.contains(#""f":{"key":"f""#))

        // The broker goes away: both relays keep answering from memory, streams included.
        try await stack.kafka.brokerDown(.all)
        try await Task.sleep(for: .seconds(2))
        for running in [relay, second] {
            let response = try await TestHTTP.request("GET", "\(running.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)])
            #expect(response.status == 200)
            #expect(response.text.contains(#""on":true"#))
            let ready = try await TestHTTP.request("GET", "\(running.baseURL)/readyz")
            #expect(ready.status == 200)
            let stream = try await RawConnection.connect(port: running.port)
            try await stream.get("/all", headers: ["Authorization: \(sdkKey)"])
            try await stream.waitFor("the put") { $0.contains("event: put") }
            await stream.close()
        }
        try await stack.kafka.brokerUp(.all)
    }

    /// Runs `body` with a fresh stack, stopped afterwards whatever happens.
    private func withStack(_ body: (TestStack) async throws -> Void) async throws {
        let stack = try await TestStack.start()
        do {
            try await body(stack)
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    private func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(try await condition()) {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
