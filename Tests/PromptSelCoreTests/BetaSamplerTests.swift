import Foundation
import Testing
@testable import PromptSelCore

/// Kolmogorov–Smirnov distance between a sample and a CDF.
func ksDistance(_ sample: [Double], _ cdf: (Double) -> Double) -> Double {
    let xs = sample.sorted()
    let n = Double(xs.count)
    var d = 0.0
    for (i, x) in xs.enumerated() {
        let f = cdf(x)
        d = max(d, abs(f - Double(i) / n), abs(Double(i + 1) / n - f))
    }
    return d
}

/// Regularized incomplete beta for integer shapes: P(Bin(a+b-1, x) >= a).
func betaCDFInteger(_ x: Double, _ a: Int, _ b: Int) -> Double {
    let n = a + b - 1
    var total = 0.0
    for j in a...n {
        var c = 1.0
        for t in 0..<j { c = c * Double(n - t) / Double(t + 1) }
        total += c * pow(x, Double(j)) * pow(1 - x, Double(n - j))
    }
    return total
}

@Suite("Beta sampler")
struct BetaSamplerTests {
    func sample(_ a: Double, _ b: Double, n: Int = 20000, seed: UInt64 = 7) -> [Double] {
        var rng = Xoshiro256StarStar(seed: seed)
        return (0..<n).map { _ in BetaSampler.beta(a, b, &rng) }
    }

    // KS critical value at significance 0.001 is 1.95 / sqrt(n); seeds are fixed,
    // so these are deterministic, but a wrong sampler fails by a wide margin.
    let ksLimit = 1.95 / (20000.0).squareRoot()

    @Test("moments match Beta(a, b)", arguments: [(2.0, 5.0), (0.5, 0.5), (30.0, 3.0), (0.2, 4.0), (1.0, 1.0), (250.0, 170.0)])
    func moments(_ p: (Double, Double)) {
        let (a, b) = p
        let xs = sample(a, b, n: 50000)
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)
        let m = a / (a + b)
        let v = a * b / ((a + b) * (a + b) * (a + b + 1))
        // 5 standard errors of the mean and ~5% of the variance.
        #expect(abs(mean - m) < 5 * (v / Double(xs.count)).squareRoot())
        #expect(abs(variance - v) / v < 0.05)
        #expect(xs.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("the ziggurat normal: goodness of fit, moments and the tail beyond r")
    func normal() {
        var rng = Xoshiro256StarStar(seed: 3)
        let xs = (0..<200_000).map { _ in BetaSampler.normal(&rng) }
        #expect(ksDistance(Array(xs.prefix(20000)), { 0.5 * (1 + erf($0 / 2.0.squareRoot())) }) < ksLimit)
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)
        #expect(abs(mean) < 5 / Double(xs.count).squareRoot())
        #expect(abs(variance - 1) < 0.02)
        // P(|X| > 3.4426) = 5.76e-4: about 115 of 200k, from the tail method.
        let tail = xs.filter { abs($0) > 3.442619855899 }.count
        #expect(tail > 70 && tail < 170)
        #expect(xs.filter { abs($0) > 2 }.count > 8700 && xs.filter { abs($0) > 2 }.count < 9500)  // 4.55%
    }

    @Test("goodness of fit: Beta(2, 5) against its exact CDF")
    func ksInteger() {
        #expect(ksDistance(sample(2, 5), { betaCDFInteger($0, 2, 5) }) < ksLimit)
    }

    @Test("goodness of fit: Beta(0.5, 0.5), the arcsine law")
    func ksArcsine() {
        #expect(ksDistance(sample(0.5, 0.5), { 2 / Double.pi * asin($0.squareRoot()) }) < ksLimit)
    }

    // Small shapes put their mass against 0, where doubles keep full precision
    // (near 1 a draw of 1 - 1e-30 rounds to 1, which a KS test would count as a miss).
    @Test("goodness of fit: shapes below 1, Beta(0.3, 1), Beta(0.05, 1), Beta(1, 0.4)")
    func ksSmallShapes() {
        #expect(ksDistance(sample(0.3, 1), { pow($0, 0.3) }) < ksLimit)
        #expect(ksDistance(sample(0.05, 1), { pow($0, 0.05) }) < ksLimit)
        #expect(ksDistance(sample(1, 0.4), { 1 - pow(1 - $0, 0.4) }) < ksLimit)
    }

    @Test("tiny shapes stay finite (no 0/0)")
    func tinyShapes() {
        let xs = sample(0.001, 0.002, n: 2000)
        #expect(xs.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        // Mass sits at the ends: about a/(a+b) = 1/3 near 1.
        let high = Double(xs.filter { $0 > 0.5 }.count) / Double(xs.count)
        #expect(abs(high - 1.0 / 3.0) < 0.05)
    }

    @Test("the smallest accepted shapes, and shapes whose logs underflow, still give a draw in [0, 1]")
    func extremeShapes() {
        for (a, b) in [(1e-12, 1e-12), (1e-12, 1e15), (1e15, 1e15), (1e-310, 1e-310), (5e-324, 1.0)] {
            let xs = sample(a, b, n: 200)
            #expect(xs.allSatisfy { $0 >= 0 && $0 <= 1 }, "Beta(\(a), \(b))")
        }
    }

    @Test("the sampler the KS test uses can fail: a wrong law is rejected")
    func ksRejectsWrongLaw() {
        #expect(ksDistance(sample(2, 5), { betaCDFInteger($0, 2, 4) }) > ksLimit)
    }

    @Test("generator: seeded streams repeat and differ between seeds")
    func generatorDeterminism() {
        var a = Xoshiro256StarStar(seed: 42), b = Xoshiro256StarStar(seed: 42), c = Xoshiro256StarStar(seed: 43)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
        // Reference value: xoshiro256** seeded via splitmix64(0), first output.
        var z = Xoshiro256StarStar(seed: 0)
        #expect(z.next() == 0x99EC_5F36_CB75_F2B4)
    }

    @Test("nextBelow is unbiased over a small range")
    func bounded() {
        var rng = Xoshiro256StarStar(seed: 1)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60000 { counts[rng.nextBelow(6)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10000) < 500 })
        #expect(rng.nextBelow(1) == 0 && rng.nextBelow(0) == 0)
    }
}
