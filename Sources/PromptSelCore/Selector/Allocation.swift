#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Test-time compute allocation in time independent of the budget.
///
/// The gain of prompt i's sample c + 1 is g_i(c) = E[p (1 - p)^c] under Beta(a, b),
/// decreasing in c, and the objective is concave in each count, so the optimum is the
/// greedy one: repeatedly give a sample to the largest gain (ties to the lowest
/// index). With each prompt's gains sorted, the greedy takes the L = budget - floor
/// largest (prompt, sample) pairs in the order (gain desc, index asc, sample asc),
/// whatever L is. So instead of L heap steps: bisect a threshold t on the gains, each
/// prompt's number of gains >= t found by a binary search over its samples (closed
/// form: log g_i(c) = log a + D(b, a) - D(b + c, a + 1), D(x, h) = lnGamma(x + h) -
/// lnGamma(x)), until the pairs between two thresholds are few; those are sorted and
/// taken in the greedy's order. Cost O(n (log max_per)^2 + n log n) at most 64 rounds,
/// not O(budget log n).
///
/// Gains are compared as logarithms, so gains below the smallest double still order
/// correctly (the heap greedy saw them all as 0 and gave them to the lowest index).
extension Acquisition {
    /// Samples per prompt maximising the expected number of prompts solved at least
    /// once, E[1 - (1 - p)^n] with p ~ Beta(a, b), under a total `budget`, each count in
    /// [minPer, maxPer]: exactly the greedy by marginal gain (see above), with `budget`
    /// used up whenever the caps allow.
    public static func allocate(_ beta: [(alpha: Double, beta: Double)], budget: Int, minPer: Int,
                                maxPer: Int) throws(PromptSelError) -> [Int] {
        let n = beta.count
        guard minPer >= 0, maxPer >= minPer else {
            throw .invalid("need 0 <= min_per <= max_per, got min_per \(minPer), max_per \(maxPer)")
        }
        guard budget >= 0 else { throw .invalid("budget must be >= 0, got \(budget)") }
        let (floor, floorOverflow) = minPer.multipliedReportingOverflow(by: n)
        guard !floorOverflow, floor <= budget else {
            throw .range("budget \(budget) is below min_per x prompts (\(minPer) x \(n))")
        }
        let left = budget - floor
        let (all, allOverflow) = (maxPer - minPer).multipliedReportingOverflow(by: n)
        // Every cap reached: the greedy would hand out all it can.
        if !allOverflow && all <= left { return [Int](repeating: maxPer, count: n) }
        if left == 0 { return [Int](repeating: minPer, count: n) }
        // No prompt can take more than `left` of the samples beyond min_per.
        let span = min(maxPer - minPer, left)
        let (pairs, pairsOverflow) = span.multipliedReportingOverflow(by: n)
        guard !pairsOverflow else { throw .range("budget \(budget) x \(n) prompts is too large") }
        let gains = GainTable(beta, minPer: minPer)
        // below[i] / above[i]: prompt i's pairs with log gain >= hi / >= lo; hi has
        // fewer than `left` pairs in all, lo at least `left`.
        var below = [Int](repeating: 0, count: n), above = [Int](repeating: span, count: n)
        var hi = -Double.infinity, lo = Double.infinity
        for i in 0..<n {
            hi = max(hi, gains.key(i, 0))
            lo = min(lo, gains.key(i, span - 1))
        }
        hi = hi.nextUp
        var countHi = 0, countLo = pairs
        let few = max(4 * n, 1 << 12)
        var mid = [Int](repeating: 0, count: n)
        while countLo - countHi > few, let t = between(lo, hi) {
            var total = 0
            for i in 0..<n {
                mid[i] = gains.count(i, atLeast: t, from: below[i], to: above[i])
                total += mid[i]
            }
            if total >= left {
                (lo, countLo) = (t, total)
                swap(&above, &mid)
            } else {
                (hi, countHi) = (t, total)
                swap(&below, &mid)
            }
        }
        // Everything >= hi is taken; `rest` more come from the pairs in [lo, hi).
        var counts = below.map { minPer + $0 }
        var rest = left - countHi
        if countLo - countHi > few {
            // lo and hi adjacent doubles: the pairs between are ties, taken by index.
            for i in 0..<n where rest > 0 {
                let k = min(max(above[i] - below[i], 0), rest)
                counts[i] += k
                rest -= k
            }
            return counts
        }
        var tied: [(key: Double, index: Int, sample: Int)] = []
        tied.reserveCapacity(countLo - countHi)
        for i in 0..<n where above[i] > below[i] {
            for k in below[i]..<above[i] { tied.append((gains.key(i, k), i, k)) }
        }
        tied.sort { ($0.key, $1.index, $1.sample) > ($1.key, $0.index, $0.sample) }
        for e in tied.prefix(rest) { counts[e.index] += 1 }
        return counts
    }

    /// A double strictly between a < b (bisecting their order as bit patterns, so at
    /// most 64 halvings reach adjacent values), or nil if they are adjacent.
    static func between(_ a: Double, _ b: Double) -> Double? {
        func ordered(_ x: Double) -> UInt64 {
            x.sign == .minus ? ~x.bitPattern : x.bitPattern | (1 << 63)
        }
        func double(_ u: UInt64) -> Double {
            u >> 63 == 1 ? Double(bitPattern: u & ~(1 << 63)) : Double(bitPattern: ~u)
        }
        let (x, y) = (ordered(a), ordered(b))
        guard y > x, y - x > 1 else { return nil }
        let m = double(x + (y - x) / 2)
        return m > a && m < b ? m : nil
    }
}

/// Log gains log E[p (1 - p)^(minPer + k)] of each prompt's sample k (0-based above
/// min_per), by the closed form.
struct GainTable {
    let a: [Double], b: [Double]
    /// log a + D(b, a): the part of every log gain of a prompt that does not move.
    let base: [Double]
    let minPer: Int

    init(_ beta: [(alpha: Double, beta: Double)], minPer: Int) {
        a = beta.map(\.alpha)
        b = beta.map(\.beta)
        base = beta.map { log($0.alpha) + GainTable.logGammaRatio($0.beta, $0.alpha) }
        self.minPer = minPer
    }

    /// log g_i(minPer + k); a value that is not a number (no valid Beta) sorts last.
    @inline(__always)
    func key(_ i: Int, _ k: Int) -> Double {
        let v = base[i] - GainTable.logGammaRatio(b[i] + Double(minPer + k), a[i] + 1)
        return v.isNaN ? -.greatestFiniteMagnitude : v
    }

    /// Number of k in [0, span) with key(i, k) >= t, known to lie in [from, to]: the
    /// first k failing it, by binary search (the keys fall with k).
    func count(_ i: Int, atLeast t: Double, from: Int, to: Int) -> Int {
        var (lo, hi) = (from, to)  // key(i, k) >= t for k < lo; the answer is <= hi
        while lo < hi {
            let m = lo + (hi - lo) / 2
            if key(i, m) >= t { lo = m + 1 } else { hi = m }
        }
        return lo
    }

    /// D(x, h) = lnGamma(x + h) - lnGamma(x) for x > 0, h >= 0, accurate to a few ulps
    /// of the result (not of the two lnGammas, which for x near 2^31 are 10^10 and
    /// would swamp the 10^-9 steps between consecutive samples' gains): Stirling's
    /// series written as a difference for x >= 64, shifted up to 64 below that.
    static func logGammaRatio(_ x: Double, _ h: Double) -> Double {
        guard x > 0, h >= 0, x.isFinite, h.isFinite else { return .nan }  // no Beta: never traps
        guard x < 64 else { return stirlingDifference(x, h) }
        // D(x, h) = D(x + m, h) - sum_{j<m} log((x + h + j) / (x + j)), the ratios
        // multiplied in groups of 8 (each is at most ~1e27, so a group cannot overflow).
        let m = Int((64 - x).rounded(.up))
        var sum = 0.0, product = 1.0
        for j in 0..<m {
            product *= (x + h + Double(j)) / (x + Double(j))
            if j % 8 == 7 {
                sum += log(product)
                product = 1
            }
        }
        return stirlingDifference(x + Double(m), h) - (sum + log(product))
    }

    /// lnGamma(z) = (z - 1/2) ln z - z + ln(2 pi)/2 + S(z), S(z) = 1/(12z) - 1/(360z^3)
    /// + 1/(1260z^5) (the next term is below 1e-16 for z >= 64), differenced.
    @inline(__always)
    static func stirlingDifference(_ x: Double, _ h: Double) -> Double {
        func s(_ z: Double) -> Double {
            let r = 1 / z, r2 = r * r
            return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 / 1260))
        }
        let y = x + h
        return (x - 0.5) * log1p(h / x) + h * log(y) - h + (s(y) - s(x))
    }
}
