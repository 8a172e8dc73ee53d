/// What a metric's per-unit values are, which decides how (n, sum, sumSquares) become a mean and a variance.
public enum MetricType: String, Sendable, Codable, CaseIterable {
    /// Each unit converted (1) or not (0): the mean is a rate, the variance p(1 − p).
    case proportion
    /// Each unit has a real value (a sum of `metricValue`s): the sample mean and the unbiased sample variance.
    case mean
}

/// The sufficient statistics of one variation for one metric, over its units (contexts).
///
/// For a proportion metric `sum` is the number of converted units and `sumSquares` equals `sum` (values are 0 or 1).
public struct SufficientStatistics: Sendable, Equatable, Hashable, Codable {
    /// The number of units (a whole number).
    public var n: Double
    /// The sum of the units' values.
    public var sum: Double
    /// The sum of the squares of the units' values.
    public var sumSquares: Double

    public init(n: Double, sum: Double, sumSquares: Double) {
        self.n = n
        self.sum = sum
        self.sumSquares = sumSquares
    }

    /// A proportion metric's statistics: `converted` of `n` units had the value 1.
    public static func proportion(n: Double, converted: Double) -> SufficientStatistics {
        SufficientStatistics(n: n, sum: converted, sumSquares: converted)
    }

    /// The mean of the values, 0 when there are no units (as gbstats reports it).
    public var mean: Double { n == 0 ? 0 : sum / n }
}

/// Settings of an analysis; the defaults are gbstats' (alpha 0.05, sequential tuning parameter 5000).
public struct AnalysisSettings: Sendable, Equatable {
    /// The significance level: p-values are compared with it and intervals cover 1 − alpha. In (0, 1).
    public var alpha: Double
    /// The sequential test's tuning parameter: the total sample size at which its interval is tightest. Positive.
    public var sequentialTuning: Double

    public init(alpha: Double = 0.05, sequentialTuning: Double = 5000) {
        self.alpha = alpha
        self.sequentialTuning = sequentialTuning
    }

    /// Whether the settings can be used: alpha strictly between 0 and 1, a positive finite tuning parameter.
    public var isValid: Bool {
        alpha > 0 && alpha < 1 && sequentialTuning > 0 && sequentialTuning.isFinite
    }
}

/// A two-sided interval of the relative lift. JSON: `[lower, upper]`.
public struct Interval: Sendable, Equatable, Hashable, Codable {
    public var lower: Double
    public var upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        lower = try container.decode(Double.self)
        upper = try container.decode(Double.self)
        if !container.isAtEnd {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "an interval has two bounds")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(lower)
        try container.encode(upper)
    }
}

/// A frequentist (fixed-horizon or sequential) test of a treatment against the control. JSON: `{"pValue", "ci"}`.
public struct TestResult: Sendable, Equatable, Hashable, Codable {
    /// The two-sided p-value of "no difference".
    public var pValue: Double
    /// The (1 − alpha) confidence interval of the relative lift.
    public var ci: Interval

    public init(pValue: Double, ci: Interval) {
        self.pValue = pValue
        self.ci = ci
    }
}

/// The Bayesian comparison of a treatment with the control. JSON: `{"chanceToWin", "ci", "risk"}`.
public struct BayesianResult: Sendable, Equatable, Hashable, Codable {
    /// The posterior probability that the treatment's mean is above the control's.
    public var chanceToWin: Double
    /// The (1 − alpha) credible interval of the relative lift.
    public var ci: Interval
    /// The expected relative loss of choosing the control, then of choosing the treatment: `[control, treatment]`.
    public var risk: [Double]

    public init(chanceToWin: Double, ci: Interval, risk: [Double]) {
        self.chanceToWin = chanceToWin
        self.ci = ci
        self.risk = risk
    }
}

/// One element of a metric's `variations` array.
///
/// JSON: `{"variation", "n", "sum", "sumSquares", "mean"}` for the control; every other variation also carries
/// `relativeLift`, `frequentist`, `sequential` and `bayesian`, each `null` where it cannot be computed.
public struct VariationAnalysis: Sendable, Equatable, Codable {
    /// The variation's index (its position in the input, or the flag's variation index once the caller maps it).
    public var variation: Int
    public var statistics: SufficientStatistics
    /// The variation's mean (0 when it has no units).
    public var mean: Double
    /// (treatment mean − control mean) / control mean; nil when the control mean is 0 or the treatment has no units.
    public var relativeLift: Double?
    /// The two-sided Welch t-test of the relative lift (fixed horizon).
    public var frequentist: TestResult?
    /// The always-valid sequential test of the relative lift.
    public var sequential: TestResult?
    /// The Bayesian comparison under a flat prior.
    public var bayesian: BayesianResult?
    /// Whether this is the control, which carries no comparison (its JSON has no comparison keys at all).
    public var isControl: Bool

    public init(
        variation: Int, statistics: SufficientStatistics, mean: Double, relativeLift: Double? = nil,
        frequentist: TestResult? = nil, sequential: TestResult? = nil, bayesian: BayesianResult? = nil,
        isControl: Bool = false
    ) {
        self.variation = variation
        self.statistics = statistics
        self.mean = mean
        self.relativeLift = relativeLift
        self.frequentist = frequentist
        self.sequential = sequential
        self.bayesian = bayesian
        self.isControl = isControl
    }

    private enum CodingKeys: String, CodingKey {
        case variation, n, sum, sumSquares, mean, relativeLift, frequentist, sequential, bayesian
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        variation = try container.decode(Int.self, forKey: .variation)
        statistics = SufficientStatistics(
            n: try container.decode(Double.self, forKey: .n),
            sum: try container.decode(Double.self, forKey: .sum),
            sumSquares: try container.decode(Double.self, forKey: .sumSquares))
        mean = try container.decode(Double.self, forKey: .mean)
        isControl = !container.contains(.relativeLift) && !container.contains(.frequentist)
            && !container.contains(.sequential) && !container.contains(.bayesian)
        relativeLift = try container.decodeIfPresent(Double.self, forKey: .relativeLift)
        frequentist = try container.decodeIfPresent(TestResult.self, forKey: .frequentist)
        sequential = try container.decodeIfPresent(TestResult.self, forKey: .sequential)
        bayesian = try container.decodeIfPresent(BayesianResult.self, forKey: .bayesian)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(variation, forKey: .variation)
        try container.encode(statistics.n, forKey: .n)
        try container.encode(statistics.sum, forKey: .sum)
        try container.encode(statistics.sumSquares, forKey: .sumSquares)
        try container.encode(mean, forKey: .mean)
        guard !isControl else { return }
        // Explicit nulls: a reader can tell "not computable" from "not a treatment".
        try container.encode(relativeLift, forKey: .relativeLift)
        try container.encode(frequentist, forKey: .frequentist)
        try container.encode(sequential, forKey: .sequential)
        try container.encode(bayesian, forKey: .bayesian)
    }
}

/// The analysis of one metric over all variations. JSON: `{"srmPValue", "variations": [...]}`.
public struct MetricAnalysis: Sendable, Equatable, Codable {
    /// The sample ratio mismatch p-value (chi-squared test of the units per variation against the expected weights);
    /// nil only when the weights cannot be used.
    public var srmPValue: Double?
    /// The control first, then every treatment, in input order.
    public var variations: [VariationAnalysis]

    public init(srmPValue: Double?, variations: [VariationAnalysis]) {
        self.srmPValue = srmPValue
        self.variations = variations
    }

    private enum CodingKeys: String, CodingKey { case srmPValue, variations }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(srmPValue, forKey: .srmPValue)
        try container.encode(variations, forKey: .variations)
    }
}
