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
    /// Standard normal by the ziggurat method (Marsaglia & Tsang 2000, 128 layers):
    /// one 64-bit draw, a table compare and a multiply 98.8% of the time, no
    /// logarithm. The layer comes from the low 7 bits and the value from the top 56,
    /// so the two are independent (the original reused bits for both).
    @inline(__always)
    static func normal(_ rng: inout Xoshiro256StarStar) -> Double {
        let z = Ziggurat.tables
        while true {
            let u = rng.next()
            let layer = Int(u & 127)
            let hz = Int64(bitPattern: u) >> 8
            if hz.magnitude < z.k[layer] { return Double(hz) * z.w[layer] }
            let x = Double(hz) * z.w[layer]
            if layer == 0 {
                // The tail beyond r, by Marsaglia's exponential method.
                var t: Double, y: Double
                repeat {
                    t = -log(rng.nextOpenUnit()) / Ziggurat.r
                    y = -log(rng.nextOpenUnit())
                } while y + y < t * t
                return hz > 0 ? Ziggurat.r + t : -Ziggurat.r - t
            }
            if z.f[layer] + rng.nextUnit() * (z.f[layer - 1] - z.f[layer]) < exp(-0.5 * x * x) { return x }
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

/// Tables of the 128-layer normal ziggurat, for 56-bit signed uniforms.
struct Ziggurat: Sendable {
    static let r = 3.442619855899
    static let area = 9.91256303526217e-3
    static let scale = 0x1p55

    /// k: acceptance thresholds; w: layer widths per unit; f: density at layer edges.
    let k: [UInt64]
    let w: [Double]
    let f: [Double]

    static let tables: Ziggurat = {
        var k = [UInt64](repeating: 0, count: 128)
        var w = [Double](repeating: 0, count: 128)
        var f = [Double](repeating: 0, count: 128)
        var d = r, t = r
        let q = area / exp(-0.5 * d * d)
        k[0] = UInt64((d / q) * scale)
        k[1] = 0
        w[0] = q / scale
        w[127] = d / scale
        f[0] = 1
        f[127] = exp(-0.5 * d * d)
        for i in stride(from: 126, through: 1, by: -1) {
            d = (-2 * log(area / d + exp(-0.5 * d * d))).squareRoot()
            k[i + 1] = UInt64((d / t) * scale)
            t = d
            f[i] = exp(-0.5 * d * d)
            w[i] = d / scale
        }
        return Ziggurat(k: k, w: w, f: f)
    }()
}
