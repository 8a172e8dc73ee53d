import RealModule

/// Student's t distribution with real (fractional) degrees of freedom ν > 0.
///
/// The tail is ½ I_{ν/(ν+t²)}(ν/2, ½); the CDF is formed as 1 − tail for t > 0, the way Boost.Math (which SciPy's
/// `stdtr`, and so gbstats, uses) forms it, so that a two-sided p-value 2(1 − CDF) rounds the same way.
enum StudentT {
    /// P(T > t) for t ≥ 0, with relative accuracy.
    static func upperTail(_ t: Double, degreesOfFreedom df: Double) -> Double {
        guard df > 0, !t.isNaN else { return .nan }
        if t == 0 { return 0.5 }
        let t2 = t * t
        if !t2.isFinite { return 0 }
        let x = df / (df + t2), y = t2 / (df + t2)
        return IncompleteBeta.regularized(a: df / 2, b: 0.5, x: x, y: y).lower / 2
    }

    /// P(T ≤ t).
    static func cdf(_ t: Double, degreesOfFreedom df: Double) -> Double {
        guard df > 0, !t.isNaN else { return .nan }
        if t == 0 { return 0.5 }
        let tail = upperTail(abs(t), degreesOfFreedom: df)
        return t > 0 ? 1 - tail : tail
    }

    /// The density at t.
    static func pdf(_ t: Double, degreesOfFreedom df: Double) -> Double {
        let logDensity = GammaFunctions.logGammaDelta(df / 2, 0.5) - 0.5 * Double.log(df * Double.pi)
            - (df + 1) / 2 * Double.log(onePlus: t * t / df)
        return Double.exp(logDensity)
    }

    /// The p-quantile, for p in (0, 1).
    static func quantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        guard df > 0, !p.isNaN else { return .nan }
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        if p == 0.5 { return 0 }
        let t = upperTailQuantile(p > 0.5 ? 1 - p : p, degreesOfFreedom: df)
        return p < 0.5 ? -t : t
    }

    /// The t > 0 whose upper tail is q < ½, by Newton's method on tail(t) − q. The tail is convex for t > 0, so
    /// every Newton step lands at or below the root and the iterates then rise monotonically to it.
    static func upperTailQuantile(_ q: Double, degreesOfFreedom df: Double) -> Double {
        // Start from the Cornish–Fisher expansion around the normal quantile (exact as ν → ∞).
        let z = -Normal.quantile(q)
        let z2 = z * z
        var t = z + z * (z2 + 1) / (4 * df) + z * ((5 * z2 + 16) * z2 + 3) / (96 * df * df)
        if !(t > 0) || !t.isFinite { t = z }
        for _ in 0..<500 {
            let difference = upperTail(t, degreesOfFreedom: df) - q
            if difference == 0 { break }
            let density = pdf(t, degreesOfFreedom: df)
            guard density > 0 else { break }
            let next = max(t + difference / density, 0)
            let converged = abs(next - t) <= 2 * Double.ulpOfOne * next
            t = next
            if converged { break }
        }
        return t
    }
}

/// The standard normal distribution.
enum Normal {
    private static let sqrtHalf = 0.707_106_781_186_547_524_40
    private static let logSqrtTwoPi = 0.918_938_533_204_672_741_78

    /// Φ(a), through erf near 0 and erfc in the tails (the Cephes `ndtr` formulation SciPy uses).
    static func cdf(_ a: Double) -> Double {
        let x = a * sqrtHalf
        let z = abs(x)
        if z < sqrtHalf { return 0.5 + 0.5 * Double.erf(x) }
        // Cephes' erfc underflows to 0 where e^−z² would be below e^−709.78; SciPy reports 0 there, so do we.
        let tail = z * z > GammaFunctions.maximumLog ? 0 : 0.5 * Double.erfc(z)
        return x > 0 ? 1 - tail : tail
    }

    /// φ(a).
    static func pdf(_ a: Double) -> Double {
        Double.exp(-a * a / 2 - logSqrtTwoPi)
    }

    /// Φ⁻¹(p) for p in (0, 1): Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3), 1988), accurate to
    /// about 1e-16.
    static func quantile(_ p: Double) -> Double {
        if p.isNaN { return .nan }
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        let q = p - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            return q * polynomial(centralNumerator, r) / polynomial(centralDenominator, r)
        }
        var r = (-Double.log(q < 0 ? p : 1 - p)).squareRoot()
        let value: Double
        if r <= 5 {
            r -= 1.6
            value = polynomial(intermediateNumerator, r) / polynomial(intermediateDenominator, r)
        } else {
            r -= 5
            value = polynomial(tailNumerator, r) / polynomial(tailDenominator, r)
        }
        return q < 0 ? -value : value
    }

    /// E[Z | Z > a] = φ(a) / (1 − Φ(a)), the inverse Mills ratio, finite for every a.
    static func upperTruncatedMean(_ a: Double) -> Double {
        if a < 30 { return pdf(a) / cdf(-a) }
        // Laplace's continued fraction a + 1/(a + 2/(a + 3/(a + …))), evaluated from the back; where the tail
        // mass underflows it still converges fast.
        var fraction = a
        for k in stride(from: 60, through: 1, by: -1) {
            fraction = a + Double(k) / fraction
        }
        return fraction
    }

    /// Evaluates c₀ + c₁r + c₂r² + … by Horner's rule.
    private static func polynomial(_ coefficients: [Double], _ r: Double) -> Double {
        coefficients.reversed().reduce(0) { $0 * r + $1 }
    }

    // AS 241 coefficients, lowest degree first.
    private static let centralNumerator = [
        3.387_132_872_796_366_608_0, 1.331_416_678_917_843_774_5e2, 1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4, 4.592_195_393_154_987_145_7e4, 6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4, 2.509_080_928_730_122_672_7e3,
    ]
    private static let centralDenominator = [
        1, 4.231_333_070_160_091_125_2e1, 6.871_870_074_920_579_083_0e2, 5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4, 3.930_789_580_009_271_061_0e4, 2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561_0e3,
    ]
    private static let intermediateNumerator = [
        1.423_437_110_749_683_577_34, 4.630_337_846_156_545_295_90, 5.769_497_221_460_691_405_50,
        3.647_848_324_763_204_605_04, 1.270_458_252_452_368_382_58, 2.417_807_251_774_506_117_70e-1,
        2.272_384_498_926_918_458_33e-2, 7.745_450_142_783_414_076_40e-4,
    ]
    private static let intermediateDenominator = [
        1, 2.053_191_626_637_758_821_87, 1.676_384_830_183_803_849_40, 6.897_673_349_851_000_045_50e-1,
        1.481_039_764_274_800_745_90e-1, 1.519_866_656_361_645_719_66e-2, 5.475_938_084_995_344_946_00e-4,
        1.050_750_071_644_416_843_24e-9,
    ]
    private static let tailNumerator = [
        6.657_904_643_501_103_777_20, 5.463_784_911_164_114_369_90, 1.784_826_539_917_291_335_80,
        2.965_605_718_285_048_912_30e-1, 2.653_218_952_657_612_309_30e-2, 1.242_660_947_388_078_438_60e-3,
        2.711_555_568_743_487_578_15e-5, 2.010_334_399_292_288_132_65e-7,
    ]
    private static let tailDenominator = [
        1, 5.998_322_065_558_879_376_90e-1, 1.369_298_809_227_358_053_10e-1, 1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591_00e-4, 1.846_318_317_510_054_681_80e-5, 1.421_511_758_316_445_888_70e-7,
        2.044_263_103_389_939_785_64e-15,
    ]
}

/// The chi-squared distribution.
enum ChiSquared {
    /// P(X > x) with k degrees of freedom: Q(k/2, x/2).
    static func survival(_ x: Double, degreesOfFreedom k: Double) -> Double {
        GammaFunctions.regularizedGammaQ(k / 2, x / 2)
    }
}
