#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gamma and Beta variates from a `Xoshiro256StarStar` stream.
///
/// Gamma uses Marsaglia & Tsang (2000) for shape >= 1 and the boost
/// Gamma(a) = Gamma(a + 1) * U^(1/a) for shape < 1. Beta(a, b) = X / (X + Y) with
/// X ~ Gamma(a), Y ~ Gamma(b); when a shape is below 1 the ratio is formed in log
/// space, because X and Y then underflow to 0 for small shapes (a = 0.01 gives
/// values like 1e-300) and X / (X + Y) would be 0 / 0.
public enum BetaSampler {
    /// Standard normal by Marsaglia's polar method. The second variate of the pair
    /// is discarded so the generator stays the only state to checkpoint.
    @inline(__always)
    static func normal(_ rng: inout Xoshiro256StarStar) -> Double {
        while true {
            let u = 2 * rng.nextUnit() - 1
            let v = 2 * rng.nextUnit() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 { return u * (-2 * log(s) / s).squareRoot() }
        }
    }

    /// Gamma(shape, 1) for shape >= 1 (Marsaglia–Tsang).
    @inline(__always)
    static func gammaAtLeastOne(_ shape: Double, _ rng: inout Xoshiro256StarStar) -> Double {
        let d = shape - 1.0 / 3.0
        let c = 1.0 / (9.0 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal(&rng)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = rng.nextOpenUnit()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return d * v }
            if log(u) < 0.5 * x2 + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// log of a Gamma(shape, 1) variate, any shape > 0.
    static func logGamma(_ shape: Double, _ rng: inout Xoshiro256StarStar) -> Double {
        if shape >= 1 { return log(gammaAtLeastOne(shape, &rng)) }
        let g = gammaAtLeastOne(shape + 1, &rng)
        return log(g) + log(rng.nextOpenUnit()) / shape
    }

    /// Gamma(shape, 1), any shape > 0. May underflow to 0 for tiny shapes.
    public static func gamma(_ shape: Double, _ rng: inout Xoshiro256StarStar) -> Double {
        if shape >= 1 { return gammaAtLeastOne(shape, &rng) }
        return exp(logGamma(shape, &rng))
    }

    /// Beta(a, b), a, b > 0 and finite. The result lies in [0, 1].
    public static func beta(_ a: Double, _ b: Double, _ rng: inout Xoshiro256StarStar) -> Double {
        if a >= 1 && b >= 1 {
            let x = gammaAtLeastOne(a, &rng)
            let y = gammaAtLeastOne(b, &rng)
            return x / (x + y)
        }
        let lx = logGamma(a, &rng)
        let ly = logGamma(b, &rng)
        // x / (x + y) = 1 / (1 + exp(ly - lx)), stable for any magnitudes. Shapes are
        // kept >= 1e-12 so both logs are finite; should both still be -inf, the draw
        // sits at 0 or 1 with the Beta's odds.
        let d = ly - lx
        if d.isNaN { return rng.nextUnit() * (a + b) < a ? 1 : 0 }
        return 1 / (1 + exp(d))
    }
}
