import RealModule

/// The regularized incomplete beta function Iₓ(a, b) and its complement, each with relative accuracy where it is
/// the small one, for the parameter ranges of the Student t distribution (b = ½ with any a > 0) and, more generally,
/// a, b > 0 of moderate size.
///
/// Methods: the continued fraction of Iₓ(a, b) evaluated with Lentz's algorithm where it converges fast (x below
/// (a + 1)/(a + b + 2), else the complement by symmetry; Numerical Recipes §6.4), and for large a with b ≤ 1, where
/// that fraction needs O(√a) terms, the asymptotic expansion BGRAT of DiDonato & Morris (ACM TOMS 18(3), 1992, §9),
/// which converges in a handful of terms.
enum IncompleteBeta {
    /// Iₓ(a, b) and 1 − Iₓ(a, b). `y` must be 1 − x, computed by the caller without cancellation.
    static func regularized(a: Double, b: Double, x: Double, y: Double) -> (lower: Double, upper: Double) {
        precondition(a > 0 && b > 0, "incomplete beta needs positive parameters")
        if x <= 0 { return (0, 1) }
        if y <= 0 { return (1, 0) }
        if b <= 1, a >= 15, x > 0.5 {
            let lower = asymptoticLargeA(a: a, b: b, x: x, y: y)
            return (lower, 1 - lower)
        }
        if a <= 1, b >= 15, y > 0.5 {
            let upper = asymptoticLargeA(a: b, b: a, x: y, y: x)
            return (1 - upper, upper)
        }
        if x < (a + 1) / (a + b + 2) {
            let lower = Double.exp(logFront(a: a, b: b, x: x, y: y)) * continuedFraction(a: a, b: b, x: x) / a
            return (lower, 1 - lower)
        }
        let upper = Double.exp(logFront(a: a, b: b, x: x, y: y)) * continuedFraction(a: b, b: a, x: y) / b
        return (1 - upper, upper)
    }

    /// ln(xᵃ yᵇ / B(a, b)).
    static func logFront(a: Double, b: Double, x: Double, y: Double) -> Double {
        a * log(x, complement: y) + b * log(y, complement: x) - GammaFunctions.logBeta(a, b)
    }

    /// ln x, through log1p(−(1 − x)) when x is near 1.
    private static func log(_ x: Double, complement: Double) -> Double {
        x > 0.5 ? Double.log(onePlus: -complement) : Double.log(x)
    }

    /// The continued fraction 1/(1 + d₁/(1 + d₂/(1 + …))) of Iₓ(a, b) = xᵃ yᵇ / (a B(a, b)) · fraction, by the
    /// modified Lentz method.
    static func continuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = Double.leastNormalMagnitude / Double.ulpOfOne
        func guarded(_ value: Double) -> Double { abs(value) < tiny ? tiny : value }
        var c = 1.0
        var d = 1 / guarded(1 - (a + b) * x / (a + 1))
        var h = d
        for m in 1...1_000_000 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 / guarded(1 + even * d)
            c = guarded(1 + even / c)
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 / guarded(1 + odd * d)
            c = guarded(1 + odd / c)
            let delta = d * c
            h *= delta
            if abs(delta - 1) <= Double.ulpOfOne { break }
        }
        return h
    }

    /// (2m + 1)! for m = 0…30.
    private static let oddFactorials: [Double] = {
        var values: [Double] = []
        var factorial = 1.0
        for k in 1...61 {
            factorial *= Double(k)
            if k % 2 == 1 { values.append(factorial) }
        }
        return values
    }()

    /// Iₓ(a, b) for a ≥ 15 and b ≤ 1 by BGRAT (DiDonato & Morris 1992, eq. 9–9.6):
    /// Iₓ(a, b) = M Σₙ pₙ Jₙ with T = a + (b − 1)/2, u = −T ln x, M = H(b, u) Γ(a + b) / (Γ(a) Tᵇ),
    /// H(b, u) = uᵇ e⁻ᵘ / Γ(b), J₀ = Q(b, u) / H(b, u) and the recurrences of pₙ and Jₙ below.
    static func asymptoticLargeA(a: Double, b: Double, x: Double, y: Double) -> Double {
        let t = a + (b - 1) / 2
        let lnX = y < 0.35 ? Double.log(onePlus: -y) : Double.log(x)
        let u = -t * lnX
        let logH = b * Double.log(u) - u - GammaFunctions.logGamma(b)
        // ln(Γ(a + b) / (Γ(a) Tᵇ)) by Stirling (a ≥ 15), with b ln((a + b)/T) = b ln(1 + (b + 1)/(2T)) kept apart
        // so that no two large logarithms cancel: the result is tiny when a is large.
        let logRatio = (a - 0.5) * Double.log(onePlus: b / a) - b + b * Double.log(onePlus: (b + 1) / (2 * t))
            + (GammaFunctions.stirlingRemainder(a + b) - GammaFunctions.stirlingRemainder(a))
        let q = GammaFunctions.regularizedGammaQ(b, u)
        // The leading term M·J₀ = Γ(a + b) / (Γ(a) Tᵇ) · Q(b, u); the corrections are relative to it.
        let leading = Double.exp(logRatio) * q
        guard logH > -700, leading > 0 else { return leading }
        let prefix = Double.exp(logH + logRatio)
        var j = q / Double.exp(logH)
        var sum = leading
        var p: [Double] = [1]
        let halfLnXSquared = (lnX / 2) * (lnX / 2)
        var halfLnXPower = 1.0
        let fourTSquared = 4 * t * t
        var b2n = b
        for n in 1..<oddFactorials.count {
            var pn = 0.0
            for m in 1..<n {
                pn += (Double(m) * b - Double(n)) * p[n - m] / oddFactorials[m]
            }
            pn = pn / Double(n) + (b - 1) / oddFactorials[n]
            p.append(pn)
            j = (b2n * (b2n + 1) * j + (u + b2n + 1) * halfLnXPower) / fourTSquared
            halfLnXPower *= halfLnXSquared
            b2n += 2
            let term = prefix * pn * j
            sum += term
            if abs(term) <= abs(sum) * Double.ulpOfOne { break }
        }
        return sum
    }
}
