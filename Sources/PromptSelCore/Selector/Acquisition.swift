#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Acquisition rules shared by the methods with a predictive Beta per candidate
/// (mopps, hybrid, gps), and test-time compute allocation. Pure functions of their
/// inputs and the handle's generator.
public enum Acquisition {
    /// E[p^k] under Beta(a, b) = prod_{j<k} (a + j) / (a + b + j): the product for
    /// the group sizes trainers use, the closed form exp(D(a, k) - D(a + b, k)) beyond
    /// (k may be 2^20: a product per candidate held the lock for seconds).
    @inline(__always)
    static func powerMean(_ a: Double, _ b: Double, _ k: Int) -> Double {
        if k > 64 { return exp(GainTable.logGammaRatio(a, Double(k)) - GainTable.logGammaRatio(a + b, Double(k))) }
        var m = 1.0
        for j in 0..<k { m *= (a + Double(j)) / (a + b + Double(j)) }
        return m
    }

    /// Probability that a group of k rollouts is mixed (some solve, some not):
    /// E[1 - p^k - (1 - p)^k] under Beta(a, b). Zero-variance groups teach GRPO nothing.
    public static func informative(_ a: Double, _ b: Double, k: Int) -> Double {
        max(0, 1 - powerMean(a, b, k) - powerMean(b, a, k))
    }

    /// The `batch` highest scores (ties by the generator), or a draw without
    /// replacement proportional to the scores when `proportional`.
    public static func pick(_ scores: [Double], batch: Int, proportional: Bool,
                            rng: inout Xoshiro256StarStar) -> [Int] {
        if !proportional {
            let tiebreak = scores.map { _ in rng.next() }
            return SelectionRules.smallest(batch, keys: scores.map { -$0 }, tiebreak: tiebreak)
        }
        // Efraimidis-Spirakis: key u^(1/w); zero scores last, uniformly.
        let keys = scores.map { w -> Double in
            let u = rng.nextOpenUnit()
            return w > 0 ? -log(u) / w : .infinity
        }
        let tiebreak = scores.map { _ in rng.next() }
        return SelectionRules.smallest(batch, keys: keys, tiebreak: tiebreak)
    }

    /// A Beta with the given mean and standard deviation, its strength (a + b)
    /// clipped to [minStrength, maxStrength].
    public static func momentMatched(mean m: Double, std s: Double, minStrength: Double,
                                     maxStrength: Double) -> (alpha: Double, beta: Double) {
        let mean = min(max(m, 1e-6), 1 - 1e-6)
        let variance = s * s
        var strength = variance > 0 ? mean * (1 - mean) / variance - 1 : maxStrength
        if !strength.isFinite { strength = maxStrength }
        strength = min(max(strength, minStrength), maxStrength)
        return (max(mean * strength, CountBounds.min), max((1 - mean) * strength, CountBounds.min))
    }
}
