import Foundation
import Testing

@testable import ExperimentStats

/// The special functions against closed forms and SciPy's values (SciPy 1.17: Boost's Student t, Cephes'
/// normal and chi-squared), where gbstats' accuracy comes from.
@Suite("Distributions")
struct DistributionTests {
    @Test("Student t with 1 and 2 degrees of freedom: the closed forms, tails to 1e-300")
    func studentClosedForms() {
        for t in [1e-8, 1e-3, 0.1, 0.5, 1, 2, 3.5, 10, 100, 1e4, 1e8] {
            // ν = 1 (Cauchy): tail = atan(1/t)/π; ν = 2: tail = (1 − t/√(t² + 2))/2 = 1/(√(t²+2)(√(t²+2) + t)).
            expectClose(StudentT.upperTail(t, degreesOfFreedom: 1), atan(1 / t) / Double.pi, tolerance: 1e-13)
            let r = (t * t + 2).squareRoot()
            expectClose(StudentT.upperTail(t, degreesOfFreedom: 2), 1 / (r * (r + t)), tolerance: 1e-13)
        }
        #expect(StudentT.cdf(0, degreesOfFreedom: 3.7) == 0.5)
        expectClose(StudentT.cdf(-2, degreesOfFreedom: 1), atan(0.5) / Double.pi, tolerance: 1e-13)
    }

    @Test("Student t with fractional degrees of freedom: SciPy's t.sf")
    func studentFractional() {
        // scipy.stats.t.sf(t, df)
        let cases: [(t: Double, df: Double, sf: Double)] = [
            (2.0, 10, 0.03669401738537018),
            (1.96, 2.7, 0.07748497418793499),
            (8.0, 17.3, 1.6161508480516593e-07),
            (5.0, 29.9, 1.1745833657687747e-05),
            (5.0, 30.1, 1.1552102184677458e-05),
            (3.0, 1234.5, 0.0013769658036701846),
            (8.3, 1e8, 5.205633288550973e-17),
            (0.01, 1e12, 0.4960106436853694),
        ]
        for c in cases {
            expectClose(StudentT.upperTail(c.t, degreesOfFreedom: c.df), c.sf, tolerance: 1e-12, "t \(c.t), ν \(c.df)")
        }
    }

    @Test("the t quantile inverts the CDF, matches SciPy's t.ppf and tends to the normal quantile")
    func studentQuantile() {
        // scipy.stats.t.ppf(p, df)
        let cases: [(p: Double, df: Double, ppf: Double)] = [
            (0.975, 10, 2.228138851986274),
            (0.975, 1, 12.706204736174694),
            (0.95, 2.7, 2.4638889362708496),
            (0.995, 17.3, 2.892027641127293),
            (0.9995, 45, 3.520251464971136),
            (0.975, 1e12, 1.9599639845424262),
            (0.025, 3.3, -3.0248744618408083),
        ]
        for c in cases {
            expectClose(StudentT.quantile(c.p, degreesOfFreedom: c.df), c.ppf, tolerance: 1e-12, "p \(c.p), ν \(c.df)")
        }
        for df in [1.0, 1.5, 4.2, 29.99, 30.01, 250, 1e6] {
            for p in [0.001, 0.05, 0.3, 0.7, 0.9, 0.999999] {
                let t = StudentT.quantile(p, degreesOfFreedom: df)
                expectClose(StudentT.cdf(t, degreesOfFreedom: df), p, tolerance: 1e-13, "p \(p), ν \(df)")
            }
        }
        #expect(StudentT.quantile(0.5, degreesOfFreedom: 3) == 0)
        #expect(StudentT.quantile(0, degreesOfFreedom: 3) == -.infinity)
        #expect(StudentT.quantile(1, degreesOfFreedom: 3) == .infinity)
    }

    @Test("the incomplete beta function's two methods agree where both apply")
    func incompleteBetaMethods() {
        for a in [15.0, 20, 47.5, 100, 400] {
            for x in [0.55, 0.7, 0.9, 0.99, 0.999] {
                let y = 1 - x
                let fraction = exp(IncompleteBeta.logFront(a: a, b: 0.5, x: x, y: y))
                    * IncompleteBeta.continuedFraction(a: a, b: 0.5, x: x) / a
                let asymptotic = IncompleteBeta.asymptoticLargeA(a: a, b: 0.5, x: x, y: y)
                expectClose(asymptotic, fraction, tolerance: 1e-13, "a \(a), x \(x)")
            }
        }
        let symmetric = IncompleteBeta.regularized(a: 3, b: 3, x: 0.5, y: 0.5)
        expectClose(symmetric.lower, 0.5, tolerance: 1e-15)
        expectClose(symmetric.upper, 0.5, tolerance: 1e-15)
    }

    @Test("the normal CDF, quantile and truncated mean: SciPy's ndtr, ndtri and truncnorm")
    func normal() {
        expectClose(Normal.cdf(1.96), 0.9750021048517795, tolerance: 1e-15)
        expectClose(Normal.cdf(-5), 2.866515718791933e-07, tolerance: 1e-14)
        expectClose(Normal.cdf(-37.5), 4.605353009581954e-308, tolerance: 1e-12)
        // Cephes' erfc underflows to 0 here, and SciPy with it.
        #expect(Normal.cdf(-37.7) == 0)
        #expect(Normal.cdf(40) == 1)
        expectClose(Normal.quantile(0.975), 1.959963984540054, tolerance: 1e-15)
        expectClose(Normal.quantile(0.025), -1.959963984540054, tolerance: 1e-15)
        expectClose(Normal.quantile(1e-300), -37.0470962993612, tolerance: 1e-14)
        for p in [1e-200, 1e-20, 1e-5, 0.01, 0.2, 0.5, 0.6, 0.99, 1 - 1e-10] {
            expectClose(Normal.cdf(Normal.quantile(p)), p, tolerance: 1e-12, "p \(p)")
        }
        // scipy.stats.truncnorm.stats(a, inf, moments="m")
        expectClose(Normal.upperTruncatedMean(-10), 7.694598626706409e-23, tolerance: 1e-13)
        expectClose(Normal.upperTruncatedMean(0), 0.7978845608028654, tolerance: 1e-14)
        expectClose(Normal.upperTruncatedMean(5), 5.1865039671258515, tolerance: 1e-13)
        expectClose(Normal.upperTruncatedMean(31.5), 31.531682363836744, tolerance: 1e-12)
        // Far beyond where the tail mass underflows: still finite, a + 1/a − 2/a³ + 10/a⁵ − … (SciPy's own value
        // loses digits here; gbstats multiplies it by a probability that is exactly 0 there).
        expectClose(Normal.upperTruncatedMean(1000), 1000 + 1e-3 - 2e-9 + 1e-14, tolerance: 1e-15)
    }

    @Test("the chi-squared survival function: closed forms and SciPy's underflow to 0")
    func chiSquared() {
        for x in [1e-6, 0.5, 3, 20, 300] {
            expectClose(ChiSquared.survival(x, degreesOfFreedom: 2), exp(-x / 2), tolerance: 1e-14)
            expectClose(ChiSquared.survival(x, degreesOfFreedom: 1), erfc((x / 2).squareRoot()), tolerance: 1e-14)
            let h = x / 2
            let three = erfc(h.squareRoot()) + 2 * (h / Double.pi).squareRoot() * exp(-h)
            expectClose(ChiSquared.survival(x, degreesOfFreedom: 3), three, tolerance: 1e-13)
        }
        // scipy.stats.chi2.sf
        expectClose(ChiSquared.survival(7.3, degreesOfFreedom: 5), 0.19926778992124214, tolerance: 1e-13)
        expectClose(ChiSquared.survival(1023.692429404287, degreesOfFreedom: 1), 1.2718780591613903e-224, tolerance: 1e-12)
        expectClose(ChiSquared.survival(1400, degreesOfFreedom: 1), 2.1010145162644003e-306, tolerance: 1e-12)
        #expect(ChiSquared.survival(1430, degreesOfFreedom: 1) == 0)
        #expect(ChiSquared.survival(1440, degreesOfFreedom: 3) == 0)
        #expect(ChiSquared.survival(0, degreesOfFreedom: 3) == 1)
    }
}
