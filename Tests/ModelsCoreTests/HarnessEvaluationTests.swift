import ModelsCore
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// LaunchDarkly's SDK test harness server-side evaluation cases (`data/data-files/server-side-eval`
/// of launchdarkly/sdk-test-harness), expanded into our fixture format: every case must give the
/// expected value, variation index and reason.
@Suite("SDK test harness evaluation data")
struct HarnessEvaluationTests {
    static let fileNames: [String] = {
        let directory = fixturesDirectory + "/ServerSideEval"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test("all 27 data files are present")
    func filesPresent() {
        #expect(Self.fileNames.count == 27)
    }

    @Test("evaluates as the harness expects", arguments: fileNames)
    func harnessFile(_ fileName: String) throws {
        let bytes = try #require(readFile(fixturesDirectory + "/ServerSideEval/" + fileName))
        let document = try JSONParser.parse(bytes)
        let groups = try #require(document["groups"]?.arrayValue)
        var checked = 0
        for group in groups {
            let data = EvaluationData(try PollingPayload(json: try #require(group["data"])))
            for evaluation in try #require(group["evaluations"]?.arrayValue) {
                let name = "\(group["name"]?.stringValue ?? "") / \(evaluation["name"]?.stringValue ?? "")"
                let flagKey = try #require(evaluation["flagKey"]?.stringValue)
                let defaultValue = evaluation["default"] ?? .null
                let valueType = evaluation["valueType"]?.stringValue ?? "any"
                let expect = try #require(evaluation["expect"])

                var detail: EvaluationDetail
                if let context = try? EvaluationContext(json: try #require(evaluation["context"])) {
                    detail = data.evaluate(flagKey: flagKey, context: context)
                } else {
                    detail = .error(.userNotSpecified)
                }
                detail = detail.applyingDefault(defaultValue, checkType: valueType != "any")

                #expect(detail.value == (expect["value"] ?? .null), "\(fileName): \(name): value")
                #expect(detail.variationIndex == expect["variationIndex"]?.integerValue, "\(fileName): \(name): variationIndex")
                #expect(detail.reason.jsonValue == expect["reason"], "\(fileName): \(name): reason \(detail.reason.jsonValue)")
                checked += 1
            }
        }
        #expect(checked > 0)
    }
}
