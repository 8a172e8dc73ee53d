import ExperimentStats
import Foundation
import Testing

/// The JSON shape of results (issue 11): the control carries only its statistics, every other variation carries
/// every comparison key, null where it cannot be computed; intervals are `[lower, upper]`.
@Suite("Results JSON")
struct CodingTests {
    private func json(_ value: some Encodable) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try #require(JSONSerialization.jsonObject(with: encoder.encode(value)) as? [String: Any])
    }

    @Test("control, computable treatment and empty treatment")
    func shape() throws {
        let analysis = ExperimentAnalysis.analyze(
            type: .proportion,
            variations: [.proportion(n: 1000, converted: 100), .proportion(n: 1010, converted: 130), .proportion(n: 0, converted: 0)],
            weights: nil, settings: AnalysisSettings())
        let object = try json(analysis)
        #expect(Set(object.keys) == ["srmPValue", "variations"])
        let variations = try #require(object["variations"] as? [[String: Any]])
        #expect(variations.count == 3)
        #expect(Set(variations[0].keys) == ["variation", "n", "sum", "sumSquares", "mean"])
        #expect(variations[0]["variation"] as? Int == 0 && variations[0]["n"] as? Double == 1000)
        let comparisonKeys: Set = [
            "variation", "n", "sum", "sumSquares", "mean", "relativeLift", "frequentist", "sequential", "bayesian",
        ]
        #expect(Set(variations[1].keys) == comparisonKeys)
        let frequentist = try #require(variations[1]["frequentist"] as? [String: Any])
        #expect(Set(frequentist.keys) == ["pValue", "ci"])
        #expect((frequentist["ci"] as? [Double])?.count == 2)
        let bayesian = try #require(variations[1]["bayesian"] as? [String: Any])
        #expect(Set(bayesian.keys) == ["chanceToWin", "ci", "risk"])
        #expect((bayesian["risk"] as? [Double])?.count == 2)
        #expect(Set(variations[2].keys) == comparisonKeys)
        for key in ["relativeLift", "frequentist", "sequential", "bayesian"] {
            #expect(variations[2][key] is NSNull, "\(key) of an empty variation is null")
        }
    }

    @Test("results decode back to the same values")
    func roundTrip() throws {
        let analysis = ExperimentAnalysis.analyze(
            type: .mean,
            variations: [
                SufficientStatistics(n: 40, sum: 90, sumSquares: 400),
                SufficientStatistics(n: 0, sum: 0, sumSquares: 0),
                SufficientStatistics(n: 44, sum: 120, sumSquares: 600),
            ],
            weights: [1, 1, 2], settings: AnalysisSettings(alpha: 0.2))
        let decoded = try JSONDecoder().decode(MetricAnalysis.self, from: JSONEncoder().encode(analysis))
        #expect(decoded == analysis)
        #expect(decoded.variations.map(\.isControl) == [true, false, false])
    }

    @Test("an interval is an array of two numbers")
    func interval() throws {
        let data = try JSONEncoder().encode(Interval(lower: -0.5, upper: 1.25))
        #expect(String(decoding: data, as: UTF8.self) == "[-0.5,1.25]")
        #expect(try JSONDecoder().decode(Interval.self, from: Data("[1,2]".utf8)) == Interval(lower: 1, upper: 2))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Interval.self, from: Data("[1,2,3]".utf8)) }
    }
}
