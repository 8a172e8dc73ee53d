import Foundation
import ModelsCore
import TestSupport

/// relay-streamer benchmarks (driven by `Benchmarks/relay-bench.sh`, release build, loopback):
///
///   RelayLoad bench          start PostgreSQL + dev-kafka + management-api + relay-streamer and run
///                            the three benchmarks below, printing Markdown tables
///   RelayLoad naive-server   the baseline SSE server (Hummingbird's per-connection-task pattern)
///
/// 1. Idle streams: RSS of the relay before and after N streams connected (and received their
///    `put`), per stream, at 1,000, 10,000 and N streams, against the naive Hummingbird server (N) in the same run.
/// 2. Kill switch: 1,000, K and N streams connected; the time from management-api's targeting `PATCH {"on":…}`
///    returning to each stream receiving the `patch`, over several rounds; against 1 stream. The relay's
///    fan-out per stream beside the kernel's floor for one loopback write, measured just before.
/// 3. Requests/s (wrk) of `/sdk/latest-all` and OFREP bulk, with and without ETag hits, against
///    `/healthz` in the same run.
///
/// Environment: RELAY_BENCH_STREAMS (default 19000: this machine's open-file limit is 20000 per
/// process), RELAY_BENCH_KILL_STREAMS (10000), RELAY_BENCH_ROUNDS (5), RELAY_BENCH_FLAGS (200),
/// RELAY_BENCH_WRK_SECONDS (8), RELAY_BENCH_SKIP (comma list of memory,killswitch,throughput),
/// RELAY_BENCH_CLIENT_THREADS (the stream clients' reader threads; default one per core),
/// RELAY_BENCH_CLIENT_POLL_US (1000: how often an idle reader polls; 0 sleeps in epoll_wait, see
/// ``StreamClients``), RELAY_BENCH_FETCH_WAIT_MS (1: the relay's `fetch.wait.max.ms`, see below),
/// RELAY_BENCH_KERNEL_FLOOR_US (set by relay-bench.sh from Benchmarks/loopback_floor.py).
///
/// The relay reads the changelog from librdkafka's development broker, which holds a fetch that finds
/// no record for the whole `fetch.wait.max.ms` (a real broker answers as soon as a record arrives).
/// With the relay's default of 20 ms, every change would wait 0–20 ms there, an artifact of the
/// development broker; the benchmark's relay therefore waits at most 1 ms.
@main
struct RelayLoad {
    static func main() async throws {
        switch CommandLine.arguments.dropFirst().first {
        case "naive-server":
            try await NaiveSSEServer.run(port: Int(ProcessInfo.processInfo.environment["VANE_HTTP_PORT"] ?? "") ?? 8031)
        case "bench":
            try await Bench().run()
        default:
            FileHandle.standardError.write(Data("usage: RelayLoad bench | naive-server\n".utf8))
            exit(2)
        }
    }
}

struct Bench {
    let environment = ProcessInfo.processInfo.environment
    func setting(_ name: String, _ defaultValue: Int) -> Int { Int(environment[name] ?? "") ?? defaultValue }
    var skipped: Set<String> { Set((environment["RELAY_BENCH_SKIP"] ?? "").split(separator: ",").map(String.init)) }

    func run() async throws {
        let streams = setting("RELAY_BENCH_STREAMS", 19_000)
        let killStreams = setting("RELAY_BENCH_KILL_STREAMS", 10_000)
        let rounds = setting("RELAY_BENCH_ROUNDS", 5)
        let flagCount = setting("RELAY_BENCH_FLAGS", 200)
        let wrkSeconds = setting("RELAY_BENCH_WRK_SECONDS", 8)

        print("starting PostgreSQL, dev-kafka and management-api …")
        let stack = try await TestStack.start(environment: ["VANE_LOG_LEVEL": "warning"])
        let project = try JSONParser.parse(try await stack.api("POST", "/projects", json: #"{"key":"bench","name":"Bench"}"#).body)
        guard let production = project["environments"]?.arrayValue?.first(where: { $0["key"] == "production" }),
            let sdkKey = production["sdkKey"]?.stringValue
        else { throw BenchmarkError("no production environment: \(project)") }
        print("creating \(flagCount) flags …")
        for index in 0..<flagCount {
            let key = "flag-\(index)"
            _ = try await stack.api("POST", "/projects/bench/flags", json: """
                {"key":"\(key)","name":"\(key)","variations":[{"value":"a"},{"value":"b"},{"value":"c"}],
                 "clientSideAvailability":{"usingEnvironmentId":true,"usingMobileKey":true}}
                """)
            _ = try await stack.api("PUT", "/projects/bench/flags/\(key)/environments/production", json: """
                {"on":true,"targets":[{"values":["user-\(index)","vip"],"variation":2}],
                 "rules":[{"clauses":[{"attribute":"email","op":"endsWith","values":["@example.com"]}],"variation":1},
                          {"clauses":[{"contextKind":"org","attribute":"tier","op":"greaterThan","values":[\(index % 5)]}],
                           "rollout":{"variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}],
                 "fallthrough":{"rollout":{"variations":[{"variation":0,"weight":30000},{"variation":2,"weight":70000}]}},"offVariation":0}
                """)
        }
        _ = try await stack.api("POST", "/projects/bench/flags",
            json: #"{"key":"kill","name":"Kill","variations":[{"value":true},{"value":false}]}"#)
        _ = try await stack.api("PUT", "/projects/bench/flags/kill/environments/production",
            json: #"{"on":true,"fallthrough":{"variation":0},"offVariation":1}"#)

        var relayEnvironment = [
            "VANE_KAFKA_BROKERS": stack.kafkaBrokers, "VANE_CONFIG_TOPIC": stack.configTopic, "VANE_LOG_LEVEL": "warning",
        ]
        let fetchWait = setting("RELAY_BENCH_FETCH_WAIT_MS", 1)
        relayEnvironment["VANE_KAFKA_PROPERTY_fetch_wait_max_ms"] = String(fetchWait)
        let relay = try ServiceProcess("relay-streamer", environment: relayEnvironment)
        try await relay.waitUntilReady()
        let poll = { try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)]) }
        while !(try await poll().text.contains("\"kill\":{")) { try await Task.sleep(for: .milliseconds(100)) }
        let payloadBytes = try await poll().body.count
        print("relay ready: \(flagCount + 1) flags, /sdk/latest-all is \(payloadBytes) bytes; load \(loadAverage())")
        print("relay's fetch.wait.max.ms: \(fetchWait) (the development broker holds an empty fetch that long);"
            + " stream clients: \(StreamClients.settingsDescription)\n")

        if !skipped.contains("memory") {
            try await memory(relay: relay, sdkKey: sdkKey, streams: streams)
        }
        if !skipped.contains("killswitch") {
            try await killSwitch(
                stack: stack, relay: relay, sdkKey: sdkKey, counts: [1, 1_000, killStreams, streams], rounds: rounds)
        }
        if !skipped.contains("throughput") {
            try await throughput(relay: relay, sdkKey: sdkKey, seconds: wrkSeconds)
        }
        await relay.stop()
        await stack.stop()
    }

    // MARK: 1. Idle streams

    private func memory(relay: ServiceProcess, sdkKey: String, streams: Int) async throws {
        print("## Idle streams: RSS per stream (1,000, 10,000 and \(streams) streams, each received its put)\n")
        // The relay at each size (the last one against the naive server in the same run). 50,000 streams need more
        // open files than this machine allows one process (RELAY_BENCH_STREAMS says how many it does).
        var relayResults: [(count: Int, before: Int, after: Int, seconds: Double)] = []
        for count in Set([1_000, 10_000, streams].filter { $0 <= streams }).sorted() {
            relayResults.append(try await holdStreams(server: relay, count: count, headers: ["Authorization: \(sdkKey)"]))
        }
        let relayResult = relayResults[relayResults.count - 1]
        let naive = try ServiceProcess("RelayLoad", arguments: ["naive-server"], environment: [:])
        try await naive.waitUntilReady()
        let naiveResult = try await holdStreams(server: naive, count: streams, headers: [])
        await naive.stop()
        print("| server | streams | RSS before | RSS with streams | per stream | connect time |")
        print("|---|---|---|---|---|---|")
        for (name, result) in relayResults.map({ ("relay-streamer", $0) }) + [("naive Hummingbird SSE (baseline)", naiveResult)] {
            print("| \(name) | \(result.count) | \(mib(result.before)) | \(mib(result.after))"
                + " | \(kib((result.after - result.before) / result.count)) | \(String(format: "%.1f s", result.seconds)) |")
        }
        let ratio = Double(relayResult.after - relayResult.before) / Double(max(1, naiveResult.after - naiveResult.before))
        Figures.add(
            area: "relay-streamer", figure: "RSS per idle stream, \(relayResult.count) streams",
            value: Double(relayResult.after - relayResult.before) / Double(max(1, relayResult.count)) / 1024, unit: "KiB",
            baselineName: "naive Hummingbird SSE server",
            baseline: Double(naiveResult.after - naiveResult.before) / Double(max(1, naiveResult.count)) / 1024, target: "<=8")
        print("\nrelay / baseline bytes per stream: \(String(format: "%.2f", ratio)); at this rate 50,000 relay streams need "
            + "\(mib((relayResult.after - relayResult.before) / relayResult.count * 50_000 + relayResult.before))\n")
    }

    private func holdStreams(server: ServiceProcess, count: Int, headers: [String]) async throws
        -> (count: Int, before: Int, after: Int, seconds: Double)
    {
        // A few warm-up streams first, so that one-time allocations (the serialized payload, the
        // event loops' buffers) are in the "before" figure.
        let warmUp = try StreamClients()
        try await warmUp.open(count: 20, port: server.port, path: "/all", headers: headers)
        try await warmUp.waitConnected(20, timeout: .seconds(30))
        await warmUp.closeAll()
        try await Task.sleep(for: .seconds(1))
        let before = try rss(server.processIdentifier)
        let clients = try StreamClients()
        let start = ContinuousClock.now
        try await clients.open(count: count, port: server.port, path: "/all", headers: headers)
        try await clients.waitConnected(count, timeout: .seconds(300))
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        try await Task.sleep(for: .seconds(3))
        let after = try rss(server.processIdentifier)
        await clients.closeAll()
        try await Task.sleep(for: .seconds(2))
        return (count, before, after, seconds)
    }

    // MARK: 2. Kill switch

    private func killSwitch(stack: TestStack, relay: ServiceProcess, sdkKey: String, counts: [Int], rounds: Int) async throws {
        // The kernel's cost of one loopback write to a reader like these clients, measured by relay-bench.sh just before
        // (Benchmarks/loopback_floor.py): what any server pays per stream here before running any code of its own.
        let floor = environment["RELAY_BENCH_KERNEL_FLOOR_US"].flatMap { Double($0) }
        // The relay's event loops (NIO's singleton group, one per core), over which its streams are spread.
        let loops = ProcessInfo.processInfo.activeProcessorCount
        print("## Kill switch: management-api PATCH returned → every stream has the patch (\(rounds) rounds)\n")
        let floorText = floor.map {
            "; the kernel's floor for one loopback write to a reader like these clients, same run: \(String(format: "%.1f", $0)) µs"
        }
        print("Fan-out per stream: one event loop's fan-out time divided by its share of the streams (\(loops) loops)"
            + "\(floorText ?? "").\n")
        print("| streams | samples | missing | p50 | p90 | p99 | max | PATCH took (p50) | relay fan-out per event loop (mean)"
            + " | fan-out per stream |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        var round = 0
        var roundLines: [String] = []
        var singleStreamP99: Double?
        for count in Set(counts).sorted() {
            let clients = try StreamClients()
            try await clients.open(count: count, port: relay.port, path: "/all", headers: ["Authorization: \(sdkKey)"])
            try await clients.waitConnected(count, timeout: .seconds(300))
            try await Task.sleep(for: .seconds(1))
            var latencies: [Double] = []
            var patchTimes: [Double] = []
            var missing = 0
            // Per round, the first and the last stream's latency: the pipeline before the fan-out, and the whole round.
            var roundSpans: [String] = []
            let fanOutBefore = try await fanOut(relay)
            for _ in 0..<rounds {
                let on = round % 2 == 1
                round += 1
                clients.watch(#"{"path":"/flags/kill","data":{"key":"kill","on":\#(on)"#)
                let sent = MonotonicClock.nanoseconds
                let response = try await stack.api("PATCH", "/projects/bench/flags/kill/environments/production", json: #"{"on":\#(on)}"#)
                let returned = MonotonicClock.nanoseconds
                guard response.status == 200 else { throw BenchmarkError("PATCH failed: \(response.status) \(response.text)") }
                let arrivals = try await clients.arrivals(expecting: count, timeout: .seconds(10))
                missing += count - arrivals.count
                patchTimes.append(Double(returned - sent) / 1e6)
                let roundLatencies = arrivals.map { Double(max(0, Int64($0) - Int64(returned))) / 1e6 }
                latencies += roundLatencies
                roundSpans.append("\(ms(roundLatencies.min() ?? 0))–\(ms(roundLatencies.max() ?? 0))")
                try await Task.sleep(for: .milliseconds(500))
            }
            let fanOutAfter = try await fanOut(relay)
            await clients.closeAll()
            latencies.sort()
            patchTimes.sort()
            let meanFanOut = (fanOutAfter.sum - fanOutBefore.sum) / Double(max(1, fanOutAfter.count - fanOutBefore.count)) * 1000
            let p99 = percentile(latencies, 0.99)
            let perStream = count > 1 ? meanFanOut * 1000 / (Double(count) / Double(loops)) : nil
            if count == 10_000, let perStream {
                Figures.add(
                    area: "relay-streamer", figure: "fan-out per stream at 10,000 streams (one loop's time ÷ its streams)",
                    value: perStream, unit: "µs", baselineName: floor.map { _ in "kernel: one loopback write to a polling reader" },
                    baseline: floor)
            }
            if count == 1 {
                singleStreamP99 = p99
            } else {
                Figures.add(
                    area: "relay-streamer", figure: "kill switch, PATCH returned → all \(count) streams, p99", value: p99, unit: "ms",
                    baselineName: "1 stream, p99", baseline: singleStreamP99, target: count == 10_000 ? "<=100" : nil)
            }
            print("| \(count) | \(latencies.count) | \(missing) | \(ms(percentile(latencies, 0.5))) | \(ms(percentile(latencies, 0.9)))"
                + " | \(ms(percentile(latencies, 0.99))) | \(ms(latencies.last ?? 0)) | \(ms(percentile(patchTimes, 0.5)))"
                + " | \(ms(meanFanOut)) | \(perStream.map { String(format: "%.1f µs", $0) } ?? "—") |")
            roundLines.append("\(count) streams, first–last arrival per round: " + roundSpans.joined(separator: ", "))
            try await Task.sleep(for: .seconds(2))
        }
        print("")
        for line in roundLines { print("- " + line) }
        print("")
    }

    /// The relay's fan-out histogram: total seconds and number of (event, event loop) fan-outs.
    private func fanOut(_ relay: ServiceProcess) async throws -> (sum: Double, count: Int) {
        let text = try await TestHTTP.request("GET", "\(relay.baseURL)/metrics").text
        func value(_ name: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        return (value("vane_relay_fanout_duration_seconds_sum"), Int(value("vane_relay_fanout_duration_seconds_count")))
    }

    // MARK: 3. Requests per second

    private func throughput(relay: ServiceProcess, sdkKey: String, seconds: Int) async throws {
        print("## Requests/s (wrk, 2 threads, 32 connections, \(seconds) s each, on the same 2 cores as the relay)\n")
        let latest = try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)])
        let ofrepBody = #"{"context":{"targetingKey":"user-7","email":"x@example.com"}}"#
        let ofrep = try await TestHTTP.request(
            "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags", headers: [("Authorization", "Bearer \(sdkKey)"),
                ("Content-Type", "application/json")],
            body: Array(ofrepBody.utf8))
        guard let latestETag = latest.header("ETag"), let ofrepETag = ofrep.header("ETag") else { throw BenchmarkError("no ETag") }
        let cases: [(String, String, [String], String?)] = [
            ("/healthz (baseline)", "/healthz", [], nil),
            ("/sdk/latest-all, full body (\(latest.body.count) bytes)", "/sdk/latest-all", ["Authorization: \(sdkKey)"], nil),
            ("/sdk/latest-all, ETag hit (304)", "/sdk/latest-all", ["Authorization: \(sdkKey)", "If-None-Match: \(latestETag)"], nil),
            ("OFREP bulk, evaluated (\(ofrep.body.count) bytes)", "/ofrep/v1/evaluate/flags",
                ["Authorization: Bearer \(sdkKey)", "Content-Type: application/json"], ofrepBody),
            ("OFREP bulk, ETag hit (304)", "/ofrep/v1/evaluate/flags",
             ["Authorization: Bearer \(sdkKey)", "Content-Type: application/json", "If-None-Match: \(ofrepETag)"], ofrepBody),
        ]
        print("| request | requests/s | vs /healthz |")
        print("|---|---|---|")
        var baseline = 0.0
        for (name, path, headers, body) in cases {
            let rate = try wrk(url: "\(relay.baseURL)\(path)", headers: headers, body: body, seconds: seconds)
            if baseline == 0 { baseline = rate }
            print("| \(name) | \(String(format: "%.0f", rate)) | \(String(format: "%.2f", rate / baseline)) |")
        }
        print("")
    }

    private func wrk(url: String, headers: [String], body: String?, seconds: Int) throws -> Double {
        var arguments = ["-t2", "-c32", "-d\(seconds)s"]
        for header in headers { arguments += ["-H", header] }
        var script: URL?
        if let body {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("relay-bench-\(UUID().uuidString).lua")
            let escaped = body.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            try "wrk.method = 'POST'\nwrk.body = '\(escaped)'\n".write(to: file, atomically: true, encoding: .utf8)
            arguments += ["-s", file.path]
            script = file
        }
        defer { if let script { try? FileManager.default.removeItem(at: script) } }
        let result = try ChildProcess.run(URL(fileURLWithPath: "/usr/bin/wrk"), arguments + [url])
        guard let line = result.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(line.split(separator: " ").last ?? "")
        else { throw BenchmarkError("wrk failed: \(result.standardOutput)\(result.standardError)") }
        if result.standardOutput.contains("Non-2xx or 3xx responses") {
            throw BenchmarkError("wrk saw error responses for \(url): \(result.standardOutput)")
        }
        return rate
    }

    // MARK: Helpers

    private func rss(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { throw BenchmarkError("no VmRSS for \(pid)") }
        return kilobytes * 1024
    }

    private func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    private func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    private func ms(_ value: Double) -> String { String(format: "%.1f ms", value) }
    private func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
    private func kib(_ bytes: Int) -> String { String(format: "%.1f KiB", Double(bytes) / 1024) }
}
