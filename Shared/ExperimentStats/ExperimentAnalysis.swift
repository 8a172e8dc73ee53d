import RealModule

/// The statistics of an experiment's metric, with the numbers of GrowthBook's `gbstats` 0.8.0 under its defaults:
/// relative lift, two-sided tests, no CUPED, a flat prior. Pure computation: no I/O, no shared state.
///
/// Where gbstats cannot compute a comparison it returns a placeholder result with an error message; here the
/// field is nil instead. That happens when the control's mean is 0, when either side's variance is not positive
/// (no units, a single unit, every unit converted or none, identical values), when the treatment has no units
/// (its relative lift), and when a number would not be finite.
public enum ExperimentAnalysis {
    /// Analyzes one metric: `variations[0]` is the control; `weights` are the expected traffic shares (equal when
    /// nil), used only by the sample ratio mismatch check. Invalid settings give nil comparisons.
    public static func analyze(
        type: MetricType, variations: [SufficientStatistics], weights: [Double]?, settings: AnalysisSettings
    ) -> MetricAnalysis {
        let srm = sampleRatioMismatch(units: variations.map(\.n), weights: weights)
        guard let controlStatistics = variations.first else { return MetricAnalysis(srmPValue: srm, variations: []) }
        let control = Moments(type: type, controlStatistics)
        var results = [
            VariationAnalysis(
                variation: 0, statistics: controlStatistics, mean: control.mean, isControl: true)
        ]
        for (index, statistics) in variations.enumerated().dropFirst() {
            let treatment = Moments(type: type, statistics)
            let comparison = Comparison(control: control, treatment: treatment)
            results.append(
                VariationAnalysis(
                    variation: index, statistics: statistics, mean: treatment.mean,
                    relativeLift: relativeLift(control: control, treatment: treatment),
                    frequentist: comparison.flatMap { frequentist($0, settings: settings) },
                    sequential: comparison.flatMap { sequential($0, settings: settings) },
                    bayesian: comparison.flatMap { bayesian($0, settings: settings) }))
        }
        return MetricAnalysis(srmPValue: srm, variations: results)
    }

    /// The sequential (always-valid) two-sided test of treatment vs control — what guarded rollouts decide with.
    public static func sequentialTest(
        type: MetricType, control: SufficientStatistics, treatment: SufficientStatistics, settings: AnalysisSettings
    ) -> TestResult? {
        Comparison(control: Moments(type: type, control), treatment: Moments(type: type, treatment))
            .flatMap { sequential($0, settings: settings) }
    }

    /// The same sequential test on the **absolute** difference of the means (treatment − control), gbstats'
    /// `SequentialTwoSidedTTest` with `difference_type="absolute"`: variance σ²_t/n_t + σ²_c/n_c instead of the delta
    /// method's. Guarded rollouts decide with it: the relative lift's variance explodes when the control's mean is small
    /// (a 2 % error rate), and is undefined when it is 0, which would leave a guard blind exactly when it matters. Unlike
    /// gbstats, one arm may have zero variance (a control that never failed) as long as their sum is positive.
    public static func sequentialAbsoluteTest(
        type: MetricType, control: SufficientStatistics, treatment: SufficientStatistics, settings: AnalysisSettings
    ) -> TestResult? {
        Comparison(absoluteControl: Moments(type: type, control), treatment: Moments(type: type, treatment))
            .flatMap { sequential($0, settings: settings) }
    }

    /// The fixed-horizon two-sided Welch t-test of the relative lift of treatment vs control.
    public static func frequentistTest(
        type: MetricType, control: SufficientStatistics, treatment: SufficientStatistics, settings: AnalysisSettings
    ) -> TestResult? {
        Comparison(control: Moments(type: type, control), treatment: Moments(type: type, treatment))
            .flatMap { frequentist($0, settings: settings) }
    }

    /// The Bayesian comparison of treatment vs control under a flat prior.
    public static func bayesianTest(
        type: MetricType, control: SufficientStatistics, treatment: SufficientStatistics, settings: AnalysisSettings
    ) -> BayesianResult? {
        Comparison(control: Moments(type: type, control), treatment: Moments(type: type, treatment))
            .flatMap { bayesian($0, settings: settings) }
    }

    /// The sample ratio mismatch p-value (gbstats' `check_srm`): Pearson's chi-squared statistic of the units per
    /// variation against `weights` (equal when nil), with k − 1 degrees of freedom. 1 when there are no units, as in
    /// gbstats; a variation of weight 0 is left out of the statistic, as in gbstats. nil when the weights cannot be
    /// used (a count other than the variations', a negative or non-finite weight, no positive weight) or when a
    /// count is negative or not finite.
    public static func sampleRatioMismatch(units: [Double], weights: [Double]?) -> Double? {
        guard units.count >= 2, units.allSatisfy({ $0 >= 0 && $0.isFinite }) else { return nil }
        let weights = weights ?? Array(repeating: 1 / Double(units.count), count: units.count)
        guard weights.count == units.count, weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else { return nil }
        let totalWeight = weights.reduce(0, +)
        guard totalWeight > 0 else { return nil }
        let totalUnits = units.reduce(0, +)
        if totalUnits == 0 { return 1 }
        var statistic = 0.0
        for (observed, weight) in zip(units, weights) where weight > 0 {
            let expected = weight / totalWeight * totalUnits
            statistic += (observed - expected) * (observed - expected) / expected
        }
        let p = ChiSquared.survival(statistic, degreesOfFreedom: Double(units.count - 1))
        return p.isFinite ? p : nil
    }

    // MARK: - The tests

    /// (treatment mean − control mean) / control mean.
    static func relativeLift(control: Moments, treatment: Moments) -> Double? {
        guard control.mean != 0, treatment.n > 0 else { return nil }
        let lift = (treatment.mean - control.mean) / control.mean
        return lift.isFinite ? lift : nil
    }

    /// gbstats' `TwoSidedTTest`: Welch's t-test of the relative lift, its variance by the delta method and its
    /// degrees of freedom by Welch–Satterthwaite on the per-unit variances.
    static func frequentist(_ comparison: Comparison, settings: AnalysisSettings) -> TestResult? {
        guard settings.isValid else { return nil }
        let a = comparison.control, b = comparison.treatment
        let standardError = comparison.variance.squareRoot()
        let criticalValue = comparison.lift / standardError
        let spread = b.variance / b.n + a.variance / a.n
        let degreesOfFreedom = spread * spread
            / (b.variance * b.variance / (b.n * b.n * (b.n - 1)) + a.variance * a.variance / (a.n * a.n * (a.n - 1)))
        let pValue = 2 * (1 - StudentT.cdf(abs(criticalValue), degreesOfFreedom: degreesOfFreedom))
        let width = StudentT.quantile(1 - settings.alpha / 2, degreesOfFreedom: degreesOfFreedom) * standardError
        return finite(TestResult(pValue: pValue, ci: Interval(lower: comparison.lift - width, upper: comparison.lift + width)))
    }

    /// gbstats' `SequentialTwoSidedTTest`: the asymptotic confidence sequence of Waudby-Smith et al. (2023,
    /// arXiv:2103.06476v7, eq. 9 for the interval, eq. 155 for the p-value, eq. 161 for ρ).
    static func sequential(_ comparison: Comparison, settings: AnalysisSettings) -> TestResult? {
        guard settings.isValid else { return nil }
        let alpha = settings.alpha
        let total = comparison.control.n + comparison.treatment.n
        let logAlpha = Double.log(alpha)
        let rho = ((-2 * logAlpha + Double.log(-2 * logAlpha + 1)) / settings.sequentialTuning).squareRoot()
        let rho2 = rho * rho
        let scaledVariance = comparison.variance * total
        let totalRho = total * rho
        let width = scaledVariance.squareRoot()
            * ((2 * (total * rho2 + 1)) * Double.log((total * rho2 + 1).squareRoot() / alpha) / (totalRho * totalRho))
            .squareRoot()
        let squaredStatistic = comparison.lift * comparison.lift * total / comparison.variance
        let tr2p1 = total * rho2 + 1
        let eValue = Double.exp(rho2 * squaredStatistic / (2 * tr2p1)) / tr2p1.squareRoot()
        let pValue = min(1 / eValue, 1)
        return finite(TestResult(pValue: pValue, ci: Interval(lower: comparison.lift - width, upper: comparison.lift + width)))
    }

    /// gbstats' `EffectBayesianABTest` with its default improper flat prior: the posterior of the relative lift is
    /// normal with the delta-method mean and variance.
    static func bayesian(_ comparison: Comparison, settings: AnalysisSettings) -> BayesianResult? {
        guard settings.isValid else { return nil }
        let mean = comparison.lift
        let precision = 1 / comparison.variance
        let sd = (1 / precision).squareRoot()
        let standardizedZero = (0 - mean) / sd
        let chanceToWin = Normal.cdf(-standardizedZero)
        let ci = Interval(
            lower: Normal.quantile(settings.alpha / 2) * sd + mean,
            upper: Normal.quantile(1 - settings.alpha / 2) * sd + mean)
        // Risk: the expected loss of each choice, E[max(0, lift)] for the control and E[max(0, −lift)] for the
        // treatment, from the means of the posterior truncated to each side of 0.
        let probabilityControlBetter = Normal.cdf(standardizedZero)
        let meanAboveZero = Normal.upperTruncatedMean(standardizedZero) * sd + mean
        let meanBelowZero = -Normal.upperTruncatedMean(-standardizedZero) * sd + mean
        let riskControl = (1 - probabilityControlBetter) * meanAboveZero
        let riskTreatment = -(probabilityControlBetter * meanBelowZero)
        let result = BayesianResult(
            chanceToWin: chanceToWin, ci: ci, risk: [riskControl + 0, riskTreatment + 0])
        let numbers = [result.chanceToWin, ci.lower, ci.upper] + result.risk
        return numbers.allSatisfy(\.isFinite) ? result : nil
    }

    private static func finite(_ result: TestResult) -> TestResult? {
        result.pValue.isFinite && result.ci.lower.isFinite && result.ci.upper.isFinite ? result : nil
    }

    // MARK: - Moments

    /// The mean and per-unit variance of one variation, as gbstats' `ProportionStatistic` and
    /// `SampleMeanStatistic` define them.
    struct Moments {
        var n: Double
        var mean: Double
        var variance: Double

        init(type: MetricType, _ statistics: SufficientStatistics) {
            n = statistics.n
            mean = statistics.mean
            switch type {
            case .proportion:
                variance = mean * (1 - mean)
            case .mean:
                variance = n <= 1 ? 0 : (statistics.sumSquares - statistics.sum * statistics.sum / n) / (n - 1)
            }
        }
    }

    /// A treatment against the control, when gbstats can compare them: the relative lift and its delta-method
    /// variance.
    struct Comparison {
        var control: Moments
        var treatment: Moments
        var lift: Double
        var variance: Double

        init?(control: Moments, treatment: Moments) {
            // gbstats: "ZERO_NEGATIVE_BASELINE_VARIATION", "NO_UNITS_IN_VARIATION", "ZERO_NEGATIVE_VARIANCE".
            guard control.mean != 0, control.n > 0, treatment.n > 0, control.variance > 0, treatment.variance > 0,
                control.mean.isFinite, treatment.mean.isFinite, control.variance.isFinite,
                treatment.variance.isFinite
            else { return nil }
            self.control = control
            self.treatment = treatment
            let controlSquared = control.mean * control.mean
            lift = (treatment.mean - control.mean) / control.mean
            variance = treatment.variance / (controlSquared * treatment.n)
                + control.variance * (treatment.mean * treatment.mean) / (controlSquared * controlSquared * control.n)
            guard lift.isFinite, variance.isFinite, variance > 0 else { return nil }
        }

        /// The absolute difference of the means (in `lift`) and its variance σ²_t/n_t + σ²_c/n_c.
        init?(absoluteControl control: Moments, treatment: Moments) {
            guard control.n > 0, treatment.n > 0, control.variance >= 0, treatment.variance >= 0, control.mean.isFinite,
                treatment.mean.isFinite
            else { return nil }
            self.control = control
            self.treatment = treatment
            lift = treatment.mean - control.mean
            variance = treatment.variance / treatment.n + control.variance / control.n
            guard lift.isFinite, variance.isFinite, variance > 0 else { return nil }
        }
    }
}
