import Benchmark
import Foundation
import Logging
import ModelsCore
import VaneSDK

/// Evaluation cost of the four reference cases of `evaluation-cases.json`; `make bench` runs the
/// same cases through LaunchDarkly's Python SDK and reports the ratio. The same flags are also
/// evaluated through the Swift SDK's `VaneClient` (data from a file, events off and on), which
/// must cost at most 1.2 × the bare evaluation by key (`Benchmarks/evaluation_report.py`).
let benchmarks: @Sendable () -> Void = {
    let casesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("evaluation-cases.json")
    guard let bytes = try? Data(contentsOf: casesURL), let document = try? JSONParser.parse(Array(bytes)),
        let payloadJSON = document["data"], let payload = try? PollingPayload(json: payloadJSON),
        let contextJSON = document["context"], let context = try? EvaluationContext(json: contextJSON),
        let cases = document["cases"]?.arrayValue
    else {
        fatalError("cannot load \(casesURL.path)")
    }
    let data = EvaluationData(payload)
    let clients = startClients(payload: payloadJSON)

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000)

    for benchmarkCase in cases {
        guard let name = benchmarkCase["name"]?.stringValue, let key = benchmarkCase["flag"]?.stringValue,
            let flag = data.flag(key)
        else { fatalError("bad case \(benchmarkCase)") }
        Benchmark("evaluate \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(data.evaluate(flag, context: context))
            }
        }
        Benchmark("evaluate by key \(name)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(data.evaluate(flagKey: key, context: context))
            }
        }
        let isBoolean = flag.flag.variations.allSatisfy { $0.boolValue != nil }
        for (label, client) in [("client", clients.withoutEvents), ("client with events", clients.withEvents)] {
            Benchmark("\(label) \(name)") { benchmark in
                for _ in benchmark.scaledIterations {
                    if isBoolean {
                        blackHole(client.boolVariation(key, context: context, default: false))
                    } else {
                        blackHole(client.stringVariation(key, context: context, default: ""))
                    }
                }
            }
        }
    }
}

/// Two clients reading the benchmark's data from a file: one without events, one recording them
/// (sent to a closed port, so they pile up to the queue's capacity and the summary keeps counting).
private func startClients(payload: JSONValue) -> (withoutEvents: VaneClient, withEvents: VaneClient) {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-bench-\(UUID().uuidString).json")
    do {
        try Data(JSONWriter.bytes(payload)).write(to: file)
    } catch {
        fatalError("cannot write \(file.path): \(error)")
    }
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    let quiet = VaneConfiguration(dataSource: .file(file))
    let withoutEvents = VaneClient(
        sdkKey: "bench", baseURL: URL(string: "http://127.0.0.1:9")!, eventsURL: nil, configuration: quiet, logger: logger)
    let withEvents = VaneClient(
        sdkKey: "bench", baseURL: URL(string: "http://127.0.0.1:9")!, eventsURL: URL(string: "http://127.0.0.1:9")!,
        configuration: quiet, logger: logger)
    let started = DispatchSemaphore(value: 0)
    Task {
        try? await withoutEvents.start(timeout: .seconds(5))
        try? await withEvents.start(timeout: .seconds(5))
        started.signal()
    }
    started.wait()
    try? FileManager.default.removeItem(at: file)
    return (withoutEvents, withEvents)
}
