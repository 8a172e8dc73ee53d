import ExperimentStats
import Foundation
import ModelsCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// The experiment resource's pure parts: request validation and the assembly of results. No processes.
@Suite("experiments: validation and results assembly")
struct ExperimentLogicTests {
    private static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    /// The paths of the 422 details `body` throws.
    private static func problemPaths(_ body: () throws -> Void) -> [String] {
        do {
            try body()
            return []
        } catch let error as ValidationError {
            return error.problems.compactMap(\.path)
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    private static let valid = #"""
        {"key":"checkout","name":"Checkout","flagKey":"new-checkout","environmentKey":"production","controlVariation":0,
         "metrics":[{"key":"purchase","type":"proportion"},{"key":"revenue","type":"mean","higherIsBetter":false}],
         "trafficWeights":[1,1,2]}
        """#

    @Test("a valid body is read with its defaults")
    func validDraft() throws {
        let draft = try ExperimentDraft(json: try Self.parse(Self.valid))
        #expect(draft.key == "checkout" && draft.flagKey == "new-checkout" && draft.environmentKey == "production")
        #expect(draft.description == "")
        #expect(draft.metrics == [
            ExperimentMetric(key: "purchase", type: .proportion, higherIsBetter: true),
            ExperimentMetric(key: "revenue", type: .mean, higherIsBetter: false),
        ])
        #expect(draft.trafficWeights == [1, 1, 2])
        try draft.validate(variationCount: 3, environmentExists: true)
    }

    @Test("every malformed field is named in one 422")
    func malformedFields() throws {
        let paths = Self.problemPaths {
            _ = try ExperimentDraft(json: try Self.parse(
                #"""
                {"key":"bad key","name":"","description":7,"flagKey":3,"controlVariation":-1,
                 "metrics":[{"key":"","type":"median"},{"type":"mean","higherIsBetter":"yes"},"x",{"key":"a","type":"mean"},
                            {"key":"a","type":"proportion"}],
                 "trafficWeights":[1,-2,"x"]}
                """#))
        }
        #expect(Set(paths) == [
            "key", "name", "description", "flagKey", "environmentKey", "controlVariation", "metrics[0].key", "metrics[0].type",
            "metrics[1].key", "metrics[1].higherIsBetter", "metrics[2]", "metrics[4].key", "trafficWeights[1]", "trafficWeights[2]",
        ])
        #expect(Self.problemPaths { _ = try ExperimentDraft(json: try Self.parse(#"{"metrics":[]}"#)) }.contains("metrics"))
        let zeroWeights = Self.problemPaths { _ = try ExperimentDraft(json: try Self.parse(#"{"trafficWeights":[0,0]}"#)) }
        #expect(zeroWeights.contains("trafficWeights"))
        #expect(throws: ValidationError.self) { _ = try ExperimentDraft(json: try Self.parse("[1]")) }
        let tooMany = (0...ExperimentLimits.metrics).map { #"{"key":"m\#($0)","type":"mean"}"# }.joined(separator: ",")
        #expect(Self.problemPaths { _ = try ExperimentDraft(json: try Self.parse(#"{"metrics":[\#(tooMany)]}"#)) }.contains("metrics"))
    }

    @Test("the flag, the environment, the control index and the weights are checked against the flag")
    func flagChecks() throws {
        let draft = try ExperimentDraft(json: try Self.parse(Self.valid))
        #expect(Self.problemPaths { try draft.validate(variationCount: nil, environmentExists: false) } == ["environmentKey", "flagKey"])
        #expect(Self.problemPaths { try draft.validate(variationCount: 2, environmentExists: true) } == ["trafficWeights"])
        var control = draft
        control.controlVariation = 3
        #expect(Self.problemPaths { try control.validate(variationCount: 3, environmentExists: true) } == ["controlVariation"])
        var single = draft
        single.trafficWeights = nil
        #expect(Self.problemPaths { try single.validate(variationCount: 1, environmentExists: true) } == ["flagKey"])
    }

    @Test("a patch changes name, description, metrics and weights; the rest is immutable")
    func patches() throws {
        let patch = try ExperimentPatch(json: try Self.parse(#"{"name":"N","trafficWeights":null}"#), key: "k")
        #expect(patch.name == "N" && patch.metrics == nil && patch.description == nil)
        #expect(patch.changesAnalysis)  // trafficWeights: null resets to equal weights
        #expect(try ExperimentPatch(json: try Self.parse(#"{"description":"d"}"#), key: "k").changesAnalysis == false)
        let paths = Self.problemPaths {
            let body = #"{"key":"other","flagKey":"f","environmentKey":"e","controlVariation":1,"name":""}"#
            _ = try ExperimentPatch(json: try Self.parse(body), key: "k")
        }
        #expect(Set(paths) == ["key", "flagKey", "environmentKey", "controlVariation", "name"])
    }

    @Test("?iteration must be a positive integer")
    func iterationParameter() throws {
        #expect(try ExperimentsController<PostgresExperimentRepository>.iterationNumber(nil) == nil)
        #expect(try ExperimentsController<PostgresExperimentRepository>.iterationNumber("2") == 2)
        for bad in ["0", "-1", "x", "1.5"] {
            #expect(Self.problemPaths { _ = try ExperimentsController<PostgresExperimentRepository>.iterationNumber(bad) } == ["iteration"])
        }
    }

    private static func experiment(control: Int, weights: [Double]?) -> Experiment {
        Experiment(
            key: "e", name: "E", description: "", flagKey: "f", environmentKey: "production", controlVariation: control,
            metrics: [ExperimentMetric(key: "buy", type: .proportion, higherIsBetter: true),
                      ExperimentMetric(key: "spend", type: .mean, higherIsBetter: true)],
            trafficWeights: weights, status: .running, iteration: nil, createdAt: "", updatedAt: "")
    }

    @Test("results: control first, every variation present, weights reordered, numbers from ExperimentAnalysis")
    func resultsAssembly() throws {
        var observations = ExperimentObservations()
        observations.exposed = [0: 1000, 1: 1100]  // variation 2 was never seen
        observations.metrics["buy"] = [0: .init(contexts: 120, sum: 250, sumSquares: 900), 1: .init(contexts: 90, sum: 1, sumSquares: 1)]
        observations.metrics["spend"] = [
            0: .init(contexts: 120, sum: 250.5, sumSquares: 900.25), 1: .init(contexts: 90, sum: 300, sumSquares: 1500),
        ]
        let iteration = ExperimentIteration(number: 1, start: "2026-01-01T00:00:00.000Z", stop: nil)
        let results = ExperimentResultsBuilder.build(
            experiment: Self.experiment(control: 1, weights: [0.2, 0.3, 0.5]), iteration: iteration, variationCount: 3,
            observations: observations, updatedAt: "now")
        #expect(results.metrics.map(\.key) == ["buy", "spend"])
        for metric in results.metrics {
            #expect(metric.variations.map(\.variation) == [1, 0, 2])
            #expect(metric.variations.map(\.statistics.n) == [1100, 1000, 0])
            #expect(metric.variations[0].isControl && !metric.variations[1].isControl)
        }
        // Proportions count converted contexts, whatever the values were.
        let buy = results.metrics[0]
        #expect(buy.variations.map(\.statistics) == [
            .proportion(n: 1100, converted: 90), .proportion(n: 1000, converted: 120), .proportion(n: 0, converted: 0),
        ])
        let expected = ExperimentAnalysis.analyze(
            type: .proportion, variations: buy.variations.map(\.statistics), weights: [0.3, 0.2, 0.5], settings: AnalysisSettings())
        #expect(buy.srmPValue == expected.srmPValue)
        #expect(buy.srmPValue != nil)
        #expect(buy.variations[1].frequentist == expected.variations[1].frequentist && buy.variations[1].frequentist != nil)
        #expect(buy.variations[2].frequentist == nil && buy.variations[2].relativeLift == nil)
        let spend = results.metrics[1]
        #expect(spend.variations[0].statistics == SufficientStatistics(n: 1100, sum: 300, sumSquares: 1500))
        #expect(spend.variations[1].statistics == SufficientStatistics(n: 1000, sum: 250.5, sumSquares: 900.25))

        // The JSON shape: the control has only n/sum/sumSquares/mean; the others have explicit nulls.
        let json = try JSONParser.parse(Array(try JSONEncoder().encode(results)))
        let variations = try #require(json["metrics"]?[0]?["variations"]?.arrayValue)
        #expect(Set(try #require(variations[0].objectValue).keys) == ["variation", "n", "sum", "sumSquares", "mean"])
        #expect(Set(try #require(variations[2].objectValue).keys) == [
            "variation", "n", "sum", "sumSquares", "mean", "relativeLift", "frequentist", "sequential", "bayesian",
        ])
        #expect(variations[2]["bayesian"] == .null)
        #expect(json["iteration"]?["stop"] == .null && json["experiment"] == "e" && json["metrics"]?[0]?["srmPValue"]?.numberValue != nil)
    }

    @Test("weights that no longer match the flag's variations leave the SRM p-value null; unseen indices still appear")
    func changedVariations() {
        var observations = ExperimentObservations()
        observations.exposed = [0: 10, 3: 5]
        let results = ExperimentResultsBuilder.build(
            experiment: Self.experiment(control: 0, weights: [1, 1]), iteration: ExperimentIteration(number: 1, start: "", stop: ""),
            variationCount: 2, observations: observations, updatedAt: "")
        #expect(results.metrics[0].variations.map(\.variation) == [0, 1, 2, 3])
        #expect(results.metrics[0].srmPValue == nil)
        let equal = ExperimentResultsBuilder.build(
            experiment: Self.experiment(control: 0, weights: nil), iteration: ExperimentIteration(number: 1, start: "", stop: ""),
            variationCount: 2, observations: ExperimentObservations(), updatedAt: "")
        #expect(equal.metrics[0].srmPValue == 1)  // no units: gbstats' 1
        #expect(equal.metrics[0].variations.count == 2)
    }
}
