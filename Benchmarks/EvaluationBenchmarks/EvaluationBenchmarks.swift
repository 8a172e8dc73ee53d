import Benchmark
import Foundation
import ModelsCore

/// Evaluation cost of the four reference cases of `evaluation-cases.json`; `make bench` runs the
/// same cases through LaunchDarkly's Python SDK and reports the ratio.
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
    }
}
