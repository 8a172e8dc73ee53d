import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The local stack exactly as `make run` starts it (`scripts/run-stack.sh`, with the debug
/// binaries): a flag created through management-api reaches a LaunchDarkly Python SDK through
/// relay-streamer, the SDK's events go through events-ingest and events-processor into the
/// `analytics` tables, the stack stops cleanly on SIGTERM, and a second start keeps the data and
/// republishes it to the fresh in-memory broker.
@Suite("Local stack (make run)", .serialized)
struct LocalStackTests {
    /// One `scripts/run-stack.sh` in its own data folder and ports.
    final class Stack: Sendable {
        let data: URL
        let ports: [String: Int]
        let process: Subprocess
        let output: URL
        let summary: [String: String]

        var api: String { "http://127.0.0.1:\(ports["VANE_API_PORT"]!)/api/v1" }
        var relay: String { summary["relay"]! }
        var events: String { summary["events"]! }
        var token: String { summary["adminToken"]! }
        var sdkKey: String { summary["sdkKey"]! }
        var outputText: String { Self.text(output) }

        static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

        init(data: URL, ports: [String: Int], delaySeconds: Int) async throws {
            self.data = data
            self.ports = ports
            output = data.appendingPathComponent("run-stack-\(UUID().uuidString.prefix(6)).out")
            let ready = data.appendingPathComponent("ready.json")
            try? FileManager.default.removeItem(at: ready)
            var environment = ProcessInfo.processInfo.environment
            environment["VANE_BIN_DIR"] = RepositoryPaths.buildDirectory.path
            environment["VANE_DATA_DIR"] = data.path
            environment["VANE_STACK_READY_FILE"] = ready.path
            environment["VANE_CORRELATION_DELAY_SECONDS"] = "\(delaySeconds)"
            environment["VANE_STACK_PARENT_PID"] = "\(getpid())"
            environment["VANE_ADMIN_TOKEN"] = nil
            // Short, so that the trickling client of probeOversizedAndSlow is cut off quickly.
            environment["VANE_HTTP_REQUEST_TIMEOUT_SECONDS"] = "3"
            for (name, port) in ports { environment[name] = "\(port)" }
            process = try Subprocess(
                "/bin/bash", [RepositoryPaths.root.appendingPathComponent("scripts/run-stack.sh").path],
                environment: environment, standardInput: .null, standardOutput: .file(output.path, append: true),
                standardError: .file(output.path, append: true))
            let deadline = ContinuousClock.now + .seconds(300)
            while !FileManager.default.fileExists(atPath: ready.path) {
                if !process.isRunning {
                    throw ChildProcess.LaunchError(
                        description: "run-stack.sh exited before the stack was ready:\n\(Self.text(output))\n\(Self.logs(data))")
                }
                guard ContinuousClock.now < deadline else {
                    throw ChildProcess.LaunchError(
                        description: "the stack was not ready within 300 s:\n\(Self.text(output))\n\(Self.logs(data))")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            try await Task.sleep(for: .milliseconds(100))
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: ready)) as? [String: Any] ?? [:]
            summary = object.compactMapValues { $0 as? String }
        }

        /// The tail of every service log, for failure messages.
        func logs() -> String { Self.logs(data) }

        static func logs(_ data: URL) -> String {
            let folder = data.appendingPathComponent("logs")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().map { name in
                "== \(name)\n" + LogTail.of(folder.appendingPathComponent(name), lines: 15)
            }.joined(separator: "\n")
        }

        /// SIGTERM, as Ctrl-C would; returns the script's exit status.
        func stop() async -> Int32 {
            let outcome = await process.stop(gracePeriod: .seconds(90))
            return outcome.forced ? -1 : outcome.status
        }

        func call(_ method: String, _ path: String, _ json: String? = nil) async throws -> TestHTTP.Response {
            try await TestHTTP.json(method, api + path, token: token, json: json)
        }

        /// One value from the analytics schema (psql, unaligned).
        func query(_ sql: String) async throws -> String {
            let result = try await ChildProcess.run(
                PostgresServer.binary("psql"),
                ["-h", "127.0.0.1", "-p", "\(ports["VANE_PG_PORT"]!)", "-U", "postgres", "-d", "vane", "-tAc", sql])
            guard result.status == 0 else { throw ChildProcess.LaunchError(description: "psql: \(result.standardError)") }
            return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    static func freePorts() throws -> [String: Int] {
        var ports: [String: Int] = [:]
        for name in ["VANE_PG_PORT", "VANE_API_PORT", "VANE_RELAY_PORT", "VANE_EVENTS_PORT", "VANE_PROCESSOR_PORT"] {
            ports[name] = try TestPorts.next()
        }
        return ports
    }

    @Test("make run's stack: API → relay → Python SDK → ingest → processor → analytics; clean stop; restart keeps data")
    func wholeStack() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("vane-stack-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let ports = try Self.freePorts()
        let users = 40

        let stack = try await Stack(data: data, ports: ports, delaySeconds: 2)
        var stopped = false
        defer { if !stopped { _ = stack.process.stopBlocking(gracePeriod: .seconds(90)) } }
        #expect(stack.outputText.contains("The demo project was created."))
        #expect(stack.outputText.contains(stack.sdkKey))
        // Every URL the summary prints answers.
        for url in ["\(stack.relay)/healthz", "\(stack.events)/healthz", "\(stack.summary["processor"]!)/healthz"] {
            #expect(try await TestHTTP.request("GET", url).status == 200, "\(url)")
        }
        #expect(try await stack.call("GET", "/projects/demo/flags/banner-text").status == 200)
        try await Self.probeConnections(stack)
        try await Self.probeStreamExpiry(stack)
        try await Self.probeOversizedAndSlow(stack, requestTimeout: .seconds(3))
        let demoState = try await TestHTTP.request("GET", "\(stack.relay)/sdk/latest-all", headers: [("Authorization", stack.sdkKey)])
        #expect(demoState.status == 200 && demoState.text.contains("new-checkout") && demoState.text.contains("beta-testers"))

        // An experiment: a 50/50 rollout with `kind: experiment`, so every evaluation is an exposure.
        let flag = "e2e-experiment"
        let created = try await stack.call("POST", "/projects/demo/flags", #"""
            {"key":"\#(flag)","name":"E2E experiment","variations":[{"value":"control"},{"value":"treatment"}],
             "defaults":{"onVariation":0,"offVariation":0}}
            """#)
        #expect(created.status == 201, "\(created.text)")
        let targeted = try await stack.call("PUT", "/projects/demo/flags/\(flag)/environments/production", #"""
            {"on":true,"offVariation":0,"fallthrough":{"rollout":{"kind":"experiment","seed":42,
             "variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}
            """#)
        #expect(targeted.status == 200, "\(targeted.text)")
        // An experiment on it, started before the SDK evaluates: its results count every exposure and value.
        let experiment = try await stack.call("POST", "/projects/demo/experiments", #"""
            {"key":"e2e","name":"E2E","flagKey":"\#(flag)","environmentKey":"production","controlVariation":0,
             "metrics":[{"key":"e2e-purchase","type":"mean"}]}
            """#)
        #expect(experiment.status == 201, "\(experiment.text)")
        #expect(try await stack.call("POST", "/projects/demo/experiments/e2e/start").status == 201)

        let sdk = try await ChildProcess.run(RepositoryPaths.python, [
            RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/stack_e2e.py").path,
            "--relay", stack.relay, "--events", stack.events, "--sdk-key", stack.sdkKey,
            "--api", stack.api, "--token", stack.token, "--project", "demo", "--environment", "production",
            "--flag", flag, "--metric", "e2e-purchase", "--users", "\(users)",
        ])
        try #require(sdk.status == 0, "\(sdk.standardError)\n\(sdk.standardOutput)\n\(stack.logs())")
        let seen = try JSONSerialization.jsonObject(with: Data(sdk.standardOutput.utf8)) as? [String: Any] ?? [:]
        let served = (seen["served"] as? [String: Int]) ?? [:]
        #expect(served.values.reduce(0, +) == users)
        #expect(served.count == 2, "a 50/50 rollout over \(users) users serves both variations: \(served)")
        #expect((seen["reason"] as? [String: Any])?["inExperiment"] as? Bool == true)
        // PATCH sent → the SDK's store serves "off" (timed in its change listener, on the stream thread).
        let killSwitch = try #require(seen["killSwitchMilliseconds"] as? Double)
        print("local stack: kill switch seen by the Python SDK \(killSwitch) ms after the PATCH was sent")
        #expect(killSwitch < 1000, "kill switch took \(killSwitch) ms through the whole local stack")

        // The processor counts summaries at once and attributes goals after the 2 s delay.
        let deadline = ContinuousClock.now + .seconds(90)
        var converted = ""
        while ContinuousClock.now < deadline {
            converted = try await stack.query(
                "SELECT coalesce(sum(converted_contexts),0) || '/' || coalesce(sum(conversion_events),0) || '/'"
                    + " || coalesce(sum(value_sum),0)"
                    + " FROM analytics.experiment_metrics WHERE flag_key = '\(flag)' AND metric_key = 'e2e-purchase'")
            if converted == "\(users)/\(users)/\((0..<users).reduce(0, +))" { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(converted == "\(users)/\(users)/\((0..<users).reduce(0, +))", "\(stack.logs())")
        // Every user and the probe context were exposed once; the evaluations were counted.
        #expect(try await stack.query(
            "SELECT sum(exposed_contexts) FROM analytics.experiment_exposures WHERE flag_key = '\(flag)'") == "\(users + 1)")
        let exposedByVariation = try await stack.query(
            "SELECT string_agg(variation || ':' || exposed_contexts, ',' ORDER BY variation)"
                + " FROM analytics.experiment_exposures WHERE flag_key = '\(flag)'")
        #expect(exposedByVariation.split(separator: ",").count == 2)
        let evaluations = Int(try await stack.query(
            "SELECT coalesce(sum(evaluations),0) FROM analytics.evaluations_hourly WHERE flag_key = '\(flag)'")) ?? 0
        #expect(evaluations >= users + 2)
        #expect(try await stack.query("SELECT count(*) FROM analytics.flag_last_evaluated WHERE flag_key = '\(flag)'") == "1")

        // The experiment's results: every user (and the probe context) in n, each user's value (its index) summed.
        let results = try await stack.call("GET", "/projects/demo/experiments/e2e/results")
        #expect(results.status == 200, "\(results.text)")
        let body = try JSONSerialization.jsonObject(with: Data(results.text.utf8)) as? [String: Any] ?? [:]
        let metric = (body["metrics"] as? [[String: Any]])?.first ?? [:]
        let variations = metric["variations"] as? [[String: Any]] ?? []
        func total(_ field: String) -> Double { variations.compactMap { ($0[field] as? NSNumber)?.doubleValue }.reduce(0, +) }
        #expect(variations.count == 2 && total("n") == Double(users + 1), "\(results.text)")
        #expect(total("sum") == Double((0..<users).reduce(0, +)), "\(results.text)")
        #expect(total("sumSquares") == Double((0..<users).map { $0 * $0 }.reduce(0, +)), "\(results.text)")
        for variation in variations {
            let index = (variation["variation"] as? NSNumber)?.intValue ?? -1
            #expect(((variation["n"] as? NSNumber)?.doubleValue ?? 0) >= Double(served["\(index)"] ?? 0), "\(results.text)")
        }
        #expect(metric["srmPValue"] is NSNumber && variations.last?["frequentist"] is [String: Any], "\(results.text)")

        // Ctrl-C: everything stops, nothing keeps listening.
        let status = await stack.stop()
        stopped = true
        #expect(status == 0, "\(stack.outputText)")
        #expect(stack.outputText.contains("stopped"))
        for (name, port) in ports { #expect(!TestPorts.isListening(port), "\(name) \(port) still answers after the stop") }

        // A second start: the demo is kept (not created again) and the flag's last state reaches the
        // fresh in-memory broker through management-api's republish.
        let again = try await Stack(data: data, ports: ports, delaySeconds: 2)
        var stoppedAgain = false
        defer { if !stoppedAgain { _ = again.process.stopBlocking(gracePeriod: .seconds(90)) } }
        #expect(!again.outputText.contains("The demo project was created."))
        #expect(again.token == stack.token && again.sdkKey == stack.sdkKey)
        var republished = ""
        for _ in 0..<50 {
            republished = try await TestHTTP.request("GET", "\(again.relay)/sdk/latest-all",
                headers: [("Authorization", again.sdkKey)]).text
            if republished.contains(flag) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let flags = (try JSONSerialization.jsonObject(with: Data(republished.utf8)) as? [String: Any])?["flags"] as? [String: Any]
        #expect((flags?[flag] as? [String: Any])?["on"] as? Bool == false, "\(republished.prefix(500))")
        #expect(await again.stop() == 0)
        stoppedAgain = true
    }
}
