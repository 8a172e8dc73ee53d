import Foundation
import Testing
import TestSupport

/// `vanectl experiment-stats`: its output and every kind of bad input (exit status 2, one line naming the problem).
@Suite("vanectl experiment-stats")
struct VanectlExperimentStatsTests {
    /// Runs the command with `input` on stdin.
    private func run(_ input: String) async throws -> ChildProcess.Result {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vane-stats-\(UUID().uuidString).json")
        try Data(input.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", #"exec "$0" experiment-stats < "$1""#, RepositoryPaths.executable("vanectl").path, file.path])
    }

    @Test("writes the srmPValue and the variations, the control without comparisons")
    func output() async throws {
        let result = try await run(
            #"{"metricType":"proportion","variations":[{"n":1000,"sum":100,"sumSquares":100},{"n":1010,"sum":130}]}"#)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.isEmpty)
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let srm = try #require(object["srmPValue"] as? Double)
        #expect(abs(srm - 0.8234966946547395) < 1e-12)
        let variations = try #require(object["variations"] as? [[String: Any]])
        #expect(variations.count == 2)
        #expect(Set(variations[0].keys) == ["variation", "n", "sum", "sumSquares", "mean"])
        #expect(variations[1]["sumSquares"] as? Double == 130)
        let frequentist = try #require(variations[1]["frequentist"] as? [String: Any])
        let p = try #require(frequentist["pValue"] as? Double)
        #expect(abs(p - 0.07519223760722471) < 1e-12)
        #expect(result.standardOutput.hasSuffix("}\n"))
    }

    @Test("optional settings, nulls where nothing can be computed")
    func settingsAndNulls() async throws {
        let result = try await run(
            #"""
            {"metricType": "mean", "alpha": 0.1, "sequentialTuning": 1000, "weights": [1, 3, 1],
             "variations": [{"n": 500, "sum": 1250.5, "sumSquares": 9000.25}, {"n": 1480, "sum": 3900, "sumSquares": 27000},
                            {"n": 0, "sum": 0, "sumSquares": 0}]}
            """#)
        #expect(result.status == 0, "\(result.standardError)")
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let variations = try #require(object["variations"] as? [[String: Any]])
        let bayesian = try #require(variations[1]["bayesian"] as? [String: Any])
        let chance = try #require(bayesian["chanceToWin"] as? Double)
        #expect(abs(chance - 0.7672799557499286) < 1e-12)
        for key in ["relativeLift", "frequentist", "sequential", "bayesian"] {
            #expect(variations[2][key] is NSNull)
        }
    }

    @Test(
        "bad input exits 2 with one line naming the problem",
        arguments: [
            ("", "stdin is not JSON"),
            ("{\"metricType\": \"proportion\", ", "stdin is not JSON: line 1"),
            ("[1, 2]", "expected a JSON object, found array"),
            (#"{"variations": []}"#, "metricType: required"),
            (#"{"metricType": "ratio", "variations": []}"#, #"metricType: expected "proportion" or "mean", found "ratio""#),
            (#"{"metricType": 1, "variations": []}"#, "metricType: expected"),
            (#"{"metricType": "mean"}"#, "variations: required"),
            (#"{"metricType": "mean", "variations": {}}"#, "variations: expected an array, found object"),
            (#"{"metricType": "mean", "variations": [{"n": 1, "sum": 1, "sumSquares": 1}]}"#,
             "variations: needs at least 2 variations"),
            (#"{"metricType": "proportion", "variations": [{"n": -1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "variations[0].n: must be a whole number of units from 0 to 2^53, found -1"),
            (#"{"metricType": "proportion", "variations": [{"n": 1.5, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "variations[0].n: must be a whole number"),
            (#"{"metricType": "proportion", "variations": [{"n": 1e300, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "variations[0].n: must be a whole number"),
            (#"{"metricType": "proportion", "variations": [{"n": 10, "sum": 0}, {"n": 10, "sum": 11}]}"#,
             "variations[1].sum: the converted units of a proportion metric must be from 0 to n (10), found 11"),
            (#"{"metricType": "proportion", "variations": [{"n": 10, "sum": -1}, {"n": 10, "sum": 1}]}"#,
             "variations[0].sum: the converted units"),
            (#"{"metricType": "proportion", "variations": [{"n": 10, "sum": 2, "sumSquares": 4}, {"n": 10, "sum": 1}]}"#,
             "variations[0].sumSquares: must equal sum (2)"),
            (#"{"metricType": "mean", "variations": [{"n": 10, "sum": 2}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0].sumSquares: required for a mean metric"),
            (#"{"metricType": "mean", "variations": [{"n": 10, "sum": 2, "sumSquares": -1}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0].sumSquares: a sum of squares cannot be negative"),
            (#"{"metricType": "mean", "variations": [{"n": 0, "sum": 2, "sumSquares": 4}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0]: a variation without units must have sum 0 and sumSquares 0"),
            (#"{"metricType": "mean", "variations": [{"sum": 2, "sumSquares": 4}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0].n: required"),
            (#"{"metricType": "mean", "variations": [{"n": "10", "sum": 2, "sumSquares": 4}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0].n: expected a number, found string"),
            (#"{"metricType": "mean", "variations": [{"n": 10, "sum": null, "sumSquares": 4}, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0].sum: expected a number, found null"),
            (#"{"metricType": "mean", "variations": [5, {"n": 10, "sum": 1, "sumSquares": 1}]}"#,
             "variations[0]: expected an object {n, sum, sumSquares}, found number"),
            (#"{"metricType": "mean", "variations": [{"n": 10, "sum": 1, "sumSquares": 1, "count": 3}, {"n": 10, "sum": 1}]}"#,
             "variations[0].count: unknown field"),
            (#"{"metricType": "proportion", "alfa": 0.1, "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "alfa: unknown field"),
            (#"{"metricType": "proportion", "alpha": 0, "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "alpha: must be between 0 and 1 (exclusive), found 0"),
            (#"{"metricType": "proportion", "alpha": 1.5, "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "alpha: must be between 0 and 1"),
            (#"{"metricType": "proportion", "alpha": "0.1", "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "alpha: expected a number, found string"),
            (#"{"metricType": "proportion", "sequentialTuning": 0, "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "sequentialTuning: must be positive, found 0"),
            (#"{"metricType": "proportion", "weights": [1], "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "weights: needs one weight per variation (2), found 1"),
            (#"{"metricType": "proportion", "weights": [1, 0], "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "weights[1]: must be positive, found 0"),
            (#"{"metricType": "proportion", "weights": [1, -2], "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "weights[1]: must be positive, found -2"),
            (#"{"metricType": "proportion", "weights": [1, true], "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "weights[1]: expected a number, found boolean"),
            (#"{"metricType": "proportion", "weights": 1, "variations": [{"n": 1, "sum": 0}, {"n": 1, "sum": 0}]}"#,
             "weights: expected an array of numbers, found number"),
        ])
    func badInput(input: String, message: String) async throws {
        let result = try await run(input)
        #expect(result.status == 2)
        #expect(result.standardOutput.isEmpty)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(result.standardError)")
        #expect(
            result.standardError.hasPrefix("vanectl experiment-stats: \(message)"),
            "stderr: \(result.standardError)")
    }
}
