import ArgumentParser
import ExperimentStats
import Foundation
import ModelsCore

/// `vanectl experiment-stats`: the statistics of one metric from its sufficient statistics, as the results API
/// reports them.
struct ExperimentStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment-stats",
        abstract: "Analyze one experiment metric from per-variation sufficient statistics (stdin to stdout).",
        discussion: """
            Reads one JSON object from standard input:
              {"metricType": "proportion"|"mean", "alpha": 0.05, "sequentialTuning": 5000,
               "weights": [0.5, 0.5], "variations": [{"n": 1000, "sum": 100, "sumSquares": 100}, ...]}
            alpha, sequentialTuning and weights are optional (defaults 0.05, 5000 and equal weights). The first \
            variation is the control. For a proportion metric, sum is the number of converted units and \
            sumSquares, which may be left out, must equal sum.

            Writes one line: {"srmPValue": ..., "variations": [...]}, where the control has n, sum, sumSquares \
            and mean, and every other variation adds relativeLift, frequentist {pValue, ci}, sequential \
            {pValue, ci} and bayesian {chanceToWin, ci, risk}, each null where it cannot be computed. The \
            numbers are those of GrowthBook's gbstats 0.8.0 (see docs/experiments.md).

            Invalid input exits with status 2 and one line on stderr naming the problem.
            """)

    /// Standard input larger than this is refused.
    static let inputLimit = 16 << 20

    func run() throws {
        let bytes: [UInt8]
        do {
            bytes = try Console.readStdin(limit: Self.inputLimit)
        } catch {
            throw Self.fail("\(error)")
        }
        let request: ExperimentStatsRequest
        do {
            request = try ExperimentStatsRequest(json: try JSONParser.parse(bytes))
        } catch let error as JSONParseError {
            throw Self.fail("stdin is not JSON: \(error)")
        } catch let error as ExperimentStatsRequest.Problem {
            throw Self.fail(error.description)
        }
        let analysis = ExperimentAnalysis.analyze(
            type: request.metricType, variations: request.variations, weights: request.weights,
            settings: request.settings)
        let encoder = JSONEncoder()
        // Sorted keys, like every JSON document Vane writes (ModelsCore's JSONWriter): deterministic output.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var output = Array(try encoder.encode(analysis))
        output.append(UInt8(ascii: "\n"))
        Console.writeStdout(output)
    }

    /// Prints `vanectl experiment-stats: <message>` to stderr and returns the exit to throw.
    static func fail(_ message: String) -> ExitCode {
        Console.writeStderr("vanectl experiment-stats: \(message)")
        return ExitCode(2)
    }
}

/// The validated input of `vanectl experiment-stats`.
struct ExperimentStatsRequest {
    /// One problem with the input, named by its JSON path.
    struct Problem: Error, CustomStringConvertible {
        var path: String
        var message: String
        var description: String { path.isEmpty ? message : "\(path): \(message)" }
    }

    /// Counts above 2⁵³ are no longer exact in a double.
    static let maximumUnits = 9_007_199_254_740_992.0

    var metricType: MetricType
    var settings: AnalysisSettings
    var weights: [Double]?
    var variations: [SufficientStatistics]

    init(json: JSONValue) throws(Problem) {
        guard case .object(let object) = json else {
            throw Problem(path: "", message: "expected a JSON object, found \(json.typeName)")
        }
        let known: Set = ["metricType", "alpha", "sequentialTuning", "weights", "variations"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw Problem(
                path: unknown, message: "unknown field (expected metricType, alpha, sequentialTuning, weights, variations)")
        }
        switch object["metricType"] {
        case nil, .null?:
            throw Problem(path: "metricType", message: "required: \"proportion\" or \"mean\"")
        case .string(let name)?:
            guard let type = MetricType(rawValue: name) else {
                throw Problem(path: "metricType", message: "expected \"proportion\" or \"mean\", found \"\(name)\"")
            }
            metricType = type
        case let other?:
            throw Problem(path: "metricType", message: "expected \"proportion\" or \"mean\", found \(other.typeName)")
        }
        settings = AnalysisSettings()
        if let alpha = try Self.optionalNumber(object["alpha"], at: "alpha") {
            guard alpha > 0, alpha < 1 else {
                throw Problem(path: "alpha", message: "must be between 0 and 1 (exclusive), found \(Self.text(alpha))")
            }
            settings.alpha = alpha
        }
        if let tuning = try Self.optionalNumber(object["sequentialTuning"], at: "sequentialTuning") {
            guard tuning > 0 else { throw Problem(path: "sequentialTuning", message: "must be positive, found \(Self.text(tuning))") }
            settings.sequentialTuning = tuning
        }
        guard let variationValues = object["variations"], !variationValues.isNull else {
            throw Problem(path: "variations", message: "required: an array of {n, sum, sumSquares}, the control first")
        }
        guard case .array(let list) = variationValues else {
            throw Problem(path: "variations", message: "expected an array, found \(variationValues.typeName)")
        }
        guard list.count >= 2 else {
            throw Problem(
                path: "variations", message: "needs at least 2 variations (the control and a treatment), found \(list.count)")
        }
        var variations: [SufficientStatistics] = []
        for (index, value) in list.enumerated() {
            variations.append(try Self.statistics(value, at: "variations[\(index)]", type: metricType))
        }
        self.variations = variations
        switch object["weights"] {
        case nil, .null?:
            weights = nil
        case .array(let values)?:
            guard values.count == list.count else {
                throw Problem(
                    path: "weights", message: "needs one weight per variation (\(list.count)), found \(values.count)")
            }
            var weights: [Double] = []
            for (index, value) in values.enumerated() {
                let weight = try Self.number(value, at: "weights[\(index)]")
                guard weight > 0 else { throw Problem(path: "weights[\(index)]", message: "must be positive, found \(Self.text(weight))") }
                weights.append(weight)
            }
            self.weights = weights
        case let other?:
            throw Problem(path: "weights", message: "expected an array of numbers, found \(other.typeName)")
        }
    }

    private static func statistics(_ value: JSONValue, at path: String, type: MetricType) throws(Problem)
        -> SufficientStatistics
    {
        guard case .object(let object) = value else {
            throw Problem(path: path, message: "expected an object {n, sum, sumSquares}, found \(value.typeName)")
        }
        if let unknown = object.keys.sorted().first(where: { !["n", "sum", "sumSquares"].contains($0) }) {
            throw Problem(path: "\(path).\(unknown)", message: "unknown field (expected n, sum, sumSquares)")
        }
        guard let nValue = object["n"] else { throw Problem(path: "\(path).n", message: "required") }
        let n = try number(nValue, at: "\(path).n")
        guard n >= 0, n.rounded(.towardZero) == n, n <= maximumUnits else {
            throw Problem(path: "\(path).n", message: "must be a whole number of units from 0 to 2^53, found \(text(n))")
        }
        guard let sumValue = object["sum"] else { throw Problem(path: "\(path).sum", message: "required") }
        let sum = try number(sumValue, at: "\(path).sum")
        let sumSquares: Double
        switch type {
        case .proportion:
            guard sum >= 0, sum <= n else {
                throw Problem(
                    path: "\(path).sum",
                    message: "the converted units of a proportion metric must be from 0 to n (\(text(n))), found \(text(sum))")
            }
            if let squaresValue = object["sumSquares"], !squaresValue.isNull {
                let squares = try number(squaresValue, at: "\(path).sumSquares")
                guard squares == sum else {
                    throw Problem(
                        path: "\(path).sumSquares",
                        message: "must equal sum (\(text(sum))) for a proportion metric, whose values are 0 or 1; found \(text(squares))")
                }
            }
            sumSquares = sum
        case .mean:
            guard let squaresValue = object["sumSquares"] else {
                throw Problem(path: "\(path).sumSquares", message: "required for a mean metric")
            }
            sumSquares = try number(squaresValue, at: "\(path).sumSquares")
            guard sumSquares >= 0 else {
                throw Problem(path: "\(path).sumSquares", message: "a sum of squares cannot be negative, found \(text(sumSquares))")
            }
            if n == 0, sum != 0 || sumSquares != 0 {
                throw Problem(path: path, message: "a variation without units must have sum 0 and sumSquares 0")
            }
        }
        return SufficientStatistics(n: n, sum: sum, sumSquares: sumSquares)
    }

    /// A number as JSON writes it (`3`, not `3.0`).
    private static func text(_ number: Double) -> String { JSONWriter.string(.number(number)) }

    private static func number(_ value: JSONValue, at path: String) throws(Problem) -> Double {
        guard case .number(let number) = value else {
            throw Problem(path: path, message: "expected a number, found \(value.typeName)")
        }
        return number
    }

    private static func optionalNumber(_ value: JSONValue?, at path: String) throws(Problem) -> Double? {
        guard let value, !value.isNull else { return nil }
        return try number(value, at: path)
    }
}
