import RealModule

/// Logarithms of gamma and beta functions, accurate for large arguments, and the regularized incomplete gamma
/// function. Only what the distributions of this module need; every function documents its domain.
enum GammaFunctions {
    /// ln of the largest double: below e^−709.78, Cephes (so SciPy) reports underflow as 0.
    static let maximumLog = 709.782_712_893_383_996_843

    /// ½ ln(2π).
    static let halfLogTwoPi = 0.918_938_533_204_672_741_78

    /// Where the Stirling series replaces the library's log-gamma: for z ≥ 10 its remainder after seven terms is
    /// below 1e-16, and differences of large log-gammas keep their precision.
    static let stirlingThreshold = 10.0

    /// S(z) in ln Γ(z) = (z − ½) ln z − z + ½ ln(2π) + S(z), for z ≥ 10: Σ B₂ₖ / (2k(2k − 1) z²ᵏ⁻¹), k = 1…7.
    static func stirlingRemainder(_ z: Double) -> Double {
        let w = 1 / (z * z)
        let series = 1.0 / 12 + w * (-1.0 / 360 + w * (1.0 / 1260 + w * (-1.0 / 1680 + w * (1.0 / 1188
            + w * (-691.0 / 360_360 + w / 156)))))
        return series / z
    }

    /// ln Γ(x) for x > 0.
    static func logGamma(_ x: Double) -> Double {
        Double.logGamma(x)
    }

    /// ln Γ(a + b) − ln Γ(a) for a, b > 0, without the cancellation of two large log-gammas when a is large.
    static func logGammaDelta(_ a: Double, _ b: Double) -> Double {
        guard a >= stirlingThreshold else { return logGamma(a + b) - logGamma(a) }
        // (a + b − ½) ln(a + b) − (a − ½) ln a − b, rearranged so that no two large terms cancel.
        return (a - 0.5) * Double.log(onePlus: b / a) + b * Double.log(a + b) - b
            + (stirlingRemainder(a + b) - stirlingRemainder(a))
    }

    /// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b) for a, b > 0.
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        let small = min(a, b), large = max(a, b)
        if large < stirlingThreshold {
            return logGamma(a) + logGamma(b) - logGamma(a + b)
        }
        if small < stirlingThreshold {
            return logGamma(small) - logGammaDelta(large, small)
        }
        let sum = small + large
        return halfLogTwoPi - 0.5 * Double.log(sum) + (small - 0.5) * Double.log(small / sum)
            - (large - 0.5) * Double.log(onePlus: small / large)
            + (stirlingRemainder(small) + stirlingRemainder(large) - stirlingRemainder(sum))
    }

    /// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and x ≥ 0, with
    /// relative accuracy in the upper tail (Numerical Recipes §6.2: the series below a + 1, Lentz's continued
    /// fraction above; the exact erfc form for a = ½, the Student-t and chi-squared case with one degree).
    static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
        if x <= 0 { return 1 }
        if x.isInfinite { return 0 }
        let logPrefix = a * Double.log(x) - x - logGamma(a)
        // Like Cephes' igamc (SciPy's chdtrc), a result below e^−709.78 is reported as 0, not as a subnormal.
        if x >= a + 1, logPrefix < -maximumLog { return 0 }
        if a == 0.5 { return Double.erfc(x.squareRoot()) }
        if x < a + 1 {
            // P(a, x) = xᵃ e⁻ˣ / Γ(a + 1) · Σₙ xⁿ / ((a + 1)…(a + n)).
            var term = 1 / a, sum = term, denominator = a
            for _ in 0..<100_000 {
                denominator += 1
                term *= x / denominator
                sum += term
                if abs(term) < abs(sum) * Double.ulpOfOne { break }
            }
            return 1 - Double.exp(logPrefix) * sum
        }
        // Q(a, x) = e⁻ˣ xᵃ / Γ(a) · 1 / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …))).
        let tiny = Double.leastNormalMagnitude / Double.ulpOfOne
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1...100_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < Double.ulpOfOne { break }
        }
        return Double.exp(logPrefix) * h
    }
}
