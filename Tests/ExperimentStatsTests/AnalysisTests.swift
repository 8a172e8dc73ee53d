import Foundation
import Testing

@testable import ExperimentStats

/// `a` and `b` agree to `tolerance` relative (exactly when either is 0).
func expectClose(
    _ a: Double?, _ b: Double, tolerance: Double = 1e-9, _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let a else {
        Issue.record("nil, expected \(b)", sourceLocation: sourceLocation)
        return
    }
    let scale = max(abs(a), abs(b))
    #expect(
        a == b || abs(a - b) <= tolerance * scale, "\(a) vs \(b)\(comment.map { " (\($0))" } ?? "")",
        sourceLocation: sourceLocation)
}

private func proportion(_ n: Double, _ converted: Double) -> SufficientStatistics {
    .proportion(n: n, converted: converted)
}

private func mean(_ n: Double, _ sum: Double, _ sumSquares: Double) -> SufficientStatistics {
    SufficientStatistics(n: n, sum: sum, sumSquares: sumSquares)
}

/// The engine against numbers computed by gbstats 0.8.0 itself (its TwoSidedTTest, SequentialTwoSidedTTest,
/// EffectBayesianABTest and check_srm, as Tests/Compatibility/differential_stats.py calls them), and every case
/// where gbstats gives up.
@Suite("Experiment analysis")
struct AnalysisTests {
    @Test("a proportion metric: gbstats' numbers")
    func proportionKnownValues() throws {
        let result = ExperimentAnalysis.analyze(
            type: .proportion, variations: [proportion(1000, 100), proportion(1010, 130)], weights: nil,
            settings: AnalysisSettings())
        expectClose(result.srmPValue, 0.8234966946547395)
        #expect(result.variations.count == 2)
        let control = result.variations[0], treatment = result.variations[1]
        #expect(control.isControl && !treatment.isControl)
        #expect(control.mean == 0.1 && control.relativeLift == nil && control.frequentist == nil)
        expectClose(treatment.mean, 0.12871287128712872)
        expectClose(treatment.relativeLift, 0.2871287128712871)
        let frequentist = try #require(treatment.frequentist)
        expectClose(frequentist.pValue, 0.07519223760722471)
        expectClose(frequentist.ci.lower, -0.029182727519160956)
        expectClose(frequentist.ci.upper, 0.6034401532617352)
        let sequential = try #require(treatment.sequential)
        expectClose(sequential.pValue, 0.6125953336674108)
        expectClose(sequential.ci.lower, -0.21652813269167664)
        expectClose(sequential.ci.upper, 0.7907855584342509)
        let bayesian = try #require(treatment.bayesian)
        expectClose(bayesian.chanceToWin, 0.962480218517753)
        expectClose(bayesian.ci.lower, -0.028990172504656686)
        expectClose(bayesian.ci.upper, 0.6032475982472308)
        #expect(bayesian.risk.count == 2)
        expectClose(bayesian.risk[0], 0.28954832849507905)
        expectClose(bayesian.risk[1], 0.0024196156237919013)
    }

    @Test("a mean metric with alpha 0.1, tuning 1000 and unequal weights: gbstats' numbers")
    func meanKnownValues() throws {
        let result = ExperimentAnalysis.analyze(
            type: .mean,
            variations: [
                SufficientStatistics(n: 500, sum: 1250.5, sumSquares: 9000.25),
                SufficientStatistics(n: 1480, sum: 3900, sumSquares: 27000),
            ],
            weights: [0.25, 0.75], settings: AnalysisSettings(alpha: 0.1, sequentialTuning: 1000))
        expectClose(result.srmPValue, 0.7952497535349383)
        let treatment = result.variations[1]
        expectClose(treatment.relativeLift, 0.05363260101364862)
        let frequentist = try #require(treatment.frequentist)
        expectClose(frequentist.pValue, 0.4656422776018261)
        expectClose(frequentist.ci.lower, -0.06735976401681482)
        expectClose(frequentist.ci.upper, 0.17462496604411207)
        let sequential = try #require(treatment.sequential)
        #expect(sequential.pValue == 1)
        expectClose(sequential.ci.lower, -0.15138872771642672)
        expectClose(sequential.ci.upper, 0.258653929743724)
        let bayesian = try #require(treatment.bayesian)
        expectClose(bayesian.chanceToWin, 0.7672799557499286)
        expectClose(bayesian.ci.lower, -0.06722718694222043)
        expectClose(bayesian.ci.upper, 0.17449238896951763)
        expectClose(bayesian.risk[0], 0.06360930639328381)
        expectClose(bayesian.risk[1], 0.00997670537963519)
    }

    @Test("a billion units per arm, three arms: tiny p-values, a chance to win near 0 and 1, a sample ratio mismatch")
    func hugeSamples() throws {
        let result = ExperimentAnalysis.analyze(
            type: .proportion,
            variations: [proportion(1e9, 1e8), proportion(1e9, 1e8 + 1e5), proportion(999_000_000, 99_800_000)],
            weights: nil, settings: AnalysisSettings())
        expectClose(result.srmPValue, 1.5378064075482782e-145)
        let up = result.variations[1], down = result.variations[2]
        expectClose(up.frequentist?.pValue, 9.459100169806334e-14, tolerance: 1e-6)
        expectClose(up.frequentist?.ci.lower, 0.0007368533345881543)
        expectClose(up.sequential?.pValue, 1.6014335346700026e-09)
        expectClose(up.sequential?.ci.upper, 0.0016147059015368856)
        expectClose(up.bayesian?.chanceToWin, 0.9999999999999527)
        expectClose(up.bayesian?.risk[1], 8.246582163541831e-19, tolerance: 1e-6)
        expectClose(down.frequentist?.pValue, 8.348877145181177e-14, tolerance: 1e-6)
        expectClose(down.bayesian?.chanceToWin, 4.1792310753130964e-14, tolerance: 1e-6)
        expectClose(down.bayesian?.risk[0], 7.251599962052556e-19, tolerance: 1e-6)
        expectClose(down.bayesian?.risk[1], 0.0010010010010010068)
    }

    /// Cases where gbstats returns a placeholder with an error message (or raises).
    static let uncomputable: [(MetricType, SufficientStatistics, SufficientStatistics)] = [
        // Control mean 0 (ZERO_NEGATIVE_BASELINE_VARIATION).
        (.proportion, proportion(100, 0), proportion(100, 5)),
        (.mean, mean(10, 0, 9), mean(10, 5, 9)),
        // No units in the control or the treatment.
        (.proportion, proportion(0, 0), proportion(100, 5)),
        (.proportion, proportion(100, 10), proportion(0, 0)),
        (.mean, mean(10, 30, 100), mean(0, 0, 0)),
        // Zero variance: every unit converted, none converted, a single unit, identical values.
        (.proportion, proportion(100, 100), proportion(100, 95)),
        (.proportion, proportion(100, 10), proportion(100, 0)),
        (.proportion, proportion(100, 10), proportion(100, 100)),
        (.proportion, proportion(100, 10), proportion(1, 1)),
        (.mean, mean(1, 3, 9), mean(10, 5, 9)),
        (.mean, mean(10, 30, 90), mean(10, 5, 9)),
        // Negative variance (inconsistent sums): gbstats' ZERO_NEGATIVE_VARIANCE.
        (.mean, mean(10, 3, 0.5), mean(10, 4, 9)),
    ]

    @Test("no comparison where gbstats gives up", arguments: uncomputable)
    func notComputable(type: MetricType, control: SufficientStatistics, treatment: SufficientStatistics) {
        let result = ExperimentAnalysis.analyze(
            type: type, variations: [control, treatment], weights: nil, settings: AnalysisSettings())
        let variation = result.variations[1]
        #expect(variation.frequentist == nil)
        #expect(variation.sequential == nil)
        #expect(variation.bayesian == nil)
        #expect(ExperimentAnalysis.sequentialTest(type: type, control: control, treatment: treatment, settings: .init()) == nil)
        #expect(result.srmPValue != nil)
    }

    @Test("a single unit with a fractional proportion: no t-test (0 degrees of freedom; gbstats divides by zero)")
    func zeroDegreesOfFreedom() throws {
        let treatment = ExperimentAnalysis.analyze(
            type: .proportion, variations: [proportion(1, 0.5), proportion(100, 10)], weights: nil, settings: .init()
        ).variations[1]
        #expect(treatment.frequentist == nil)
        expectClose(treatment.sequential?.pValue, 0.39075039528032135)
        expectClose(treatment.bayesian?.chanceToWin, 6.373265175276106e-05)
        expectClose(treatment.bayesian?.risk[1], 0.8000031105912198)
    }

    @Test("the relative lift is reported whenever the control mean is not 0 and the treatment has units")
    func relativeLift() {
        func lift(_ control: SufficientStatistics, _ treatment: SufficientStatistics) -> Double? {
            ExperimentAnalysis.analyze(type: .proportion, variations: [control, treatment], weights: nil, settings: .init())
                .variations[1].relativeLift
        }
        // Zero variance in the control does not prevent the lift, only the tests.
        #expect(lift(proportion(100, 100), proportion(100, 95)) == -0.050000000000000044)
        #expect(lift(proportion(100, 10), proportion(100, 0)) == -1)
        #expect(lift(proportion(100, 0), proportion(100, 5)) == nil)
        #expect(lift(proportion(100, 10), proportion(0, 0)) == nil)
    }

    @Test("a negative control mean is compared, as gbstats does (the lift is relative to it)")
    func negativeControlMean() throws {
        let result = ExperimentAnalysis.analyze(
            type: .mean,
            variations: [
                SufficientStatistics(n: 10, sum: -30, sumSquares: 190),
                SufficientStatistics(n: 10, sum: -5, sumSquares: 90),
            ],
            weights: nil, settings: AnalysisSettings())
        let treatment = result.variations[1]
        #expect(treatment.relativeLift == (-0.5 - -3) / -3)
        #expect(treatment.frequentist != nil && treatment.sequential != nil && treatment.bayesian != nil)
    }

    @Test("invalid settings give no comparison instead of a crash")
    func invalidSettings() {
        for settings in [
            AnalysisSettings(alpha: 0), AnalysisSettings(alpha: 1), AnalysisSettings(alpha: .nan),
            AnalysisSettings(sequentialTuning: 0), AnalysisSettings(sequentialTuning: .infinity),
        ] {
            let treatment = ExperimentAnalysis.analyze(
                type: .proportion, variations: [proportion(100, 10), proportion(100, 20)], weights: nil,
                settings: settings
            ).variations[1]
            #expect(treatment.frequentist == nil && treatment.sequential == nil && treatment.bayesian == nil)
            #expect(treatment.relativeLift == 1)
        }
    }

    @Test("the standalone tests equal the analysis' own")
    func standaloneTests() {
        let control = proportion(5000, 480), treatment = proportion(5100, 560)
        let settings = AnalysisSettings(alpha: 0.1, sequentialTuning: 2500)
        let analysis = ExperimentAnalysis.analyze(
            type: .proportion, variations: [control, treatment], weights: nil, settings: settings
        ).variations[1]
        #expect(
            ExperimentAnalysis.sequentialTest(type: .proportion, control: control, treatment: treatment, settings: settings)
                == analysis.sequential)
        #expect(
            ExperimentAnalysis.frequentistTest(type: .proportion, control: control, treatment: treatment, settings: settings)
                == analysis.frequentist)
        #expect(
            ExperimentAnalysis.bayesianTest(type: .proportion, control: control, treatment: treatment, settings: settings)
                == analysis.bayesian)
    }

    @Test("the sequential interval is wider than the fixed-horizon one, and both shrink with more units")
    func sequentialIsConservative() throws {
        var previousWidth = Double.infinity
        for scale in [1.0, 10, 100, 1000] {
            let treatment = ExperimentAnalysis.analyze(
                type: .proportion, variations: [proportion(1000 * scale, 100 * scale), proportion(1000 * scale, 110 * scale)],
                weights: nil, settings: AnalysisSettings()
            ).variations[1]
            let fixed = try #require(treatment.frequentist), sequential = try #require(treatment.sequential)
            #expect(sequential.ci.upper - sequential.ci.lower > fixed.ci.upper - fixed.ci.lower)
            #expect(sequential.pValue >= fixed.pValue)
            #expect(fixed.ci.upper - fixed.ci.lower < previousWidth)
            previousWidth = fixed.ci.upper - fixed.ci.lower
        }
    }

    @Test("sample ratio mismatch: gbstats' check_srm, 1 without units, nil for unusable weights")
    func sampleRatioMismatch() {
        expectClose(ExperimentAnalysis.sampleRatioMismatch(units: [1000, 1010], weights: nil), 0.8234966946547395)
        expectClose(ExperimentAnalysis.sampleRatioMismatch(units: [500, 1480], weights: [0.25, 0.75]), 0.7952497535349383)
        // Weights need not sum to 1.
        expectClose(ExperimentAnalysis.sampleRatioMismatch(units: [500, 1480], weights: [1, 3]), 0.7952497535349383)
        // Two degrees of freedom: the survival function is e^(−x/2).
        let statistic: Double = 100.0 / 100 + 100.0 / 100 + 400.0 / 100  // (90 − 100)² / 100 twice, (120 − 100)² / 100
        expectClose(ExperimentAnalysis.sampleRatioMismatch(units: [90, 90, 120], weights: nil), exp(-statistic / 2))
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [0, 0, 0], weights: nil) == 1)
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [100, 100], weights: [1]) == nil)
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [100, 100], weights: [1, -1]) == nil)
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [100, 100], weights: [0, 0]) == nil)
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [100], weights: nil) == nil)
        // Hugely unbalanced: underflows to 0, as SciPy's chdtrc does, never to a subnormal.
        #expect(ExperimentAnalysis.sampleRatioMismatch(units: [1_000_000, 900_000], weights: nil) == 0)
        let result = ExperimentAnalysis.analyze(
            type: .proportion, variations: [proportion(100, 1), proportion(100, 1)], weights: [1, 2, 3],
            settings: .init())
        #expect(result.srmPValue == nil)
    }
}
