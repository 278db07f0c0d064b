#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Acquisition rules shared by the methods with a predictive Beta per candidate
/// (mopps, hybrid, gps), and test-time compute allocation. Pure functions of their
/// inputs and the handle's generator.
public enum Acquisition {
    /// E[p^k] under Beta(a, b) = prod_{j<k} (a + j) / (a + b + j).
    @inline(__always)
    static func powerMean(_ a: Double, _ b: Double, _ k: Int) -> Double {
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

    /// Samples per prompt maximising the expected number of prompts solved at least
    /// once, E[1 - (1 - p)^n] with p ~ Beta(a, b), under a total `budget`, each count
    /// in [minPer, maxPer]. The objective is concave in each n (the gain of sample n+1
    /// is E[(1-p)^n] a / (a + b + n), decreasing), so greedy by marginal gain is optimal.
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
        var counts = [Int](repeating: minPer, count: n)
        // remaining[i] = E[(1 - p)^n_i]: the probability prompt i is still unsolved.
        var remaining = beta.map { powerMean($0.beta, $0.alpha, minPer) }
        var left = budget - floor
        // A max-heap of (gain, index); gains of one prompt only fall, so a popped
        // entry is current when its count matches.
        var heap: [(gain: Double, index: Int, count: Int)] = []
        func gain(_ i: Int) -> Double {
            remaining[i] * beta[i].alpha / (beta[i].alpha + beta[i].beta + Double(counts[i]))
        }
        func push(_ e: (gain: Double, index: Int, count: Int)) {
            heap.append(e)
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if heap[p].gain > heap[c].gain || (heap[p].gain == heap[c].gain && heap[p].index < heap[c].index) { break }
                heap.swapAt(p, c)
                c = p
            }
        }
        func pop() -> (gain: Double, index: Int, count: Int) {
            let top = heap[0]
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
            var c = 0
            while true {
                let l = 2 * c + 1, r = l + 1
                var m = c
                for k in [l, r] where k < heap.count {
                    if heap[k].gain > heap[m].gain || (heap[k].gain == heap[m].gain && heap[k].index < heap[m].index) { m = k }
                }
                if m == c { break }
                heap.swapAt(m, c)
                c = m
            }
            return top
        }
        for i in 0..<n where counts[i] < maxPer { push((gain(i), i, counts[i])) }
        while left > 0, !heap.isEmpty {
            let e = pop()
            let i = e.index
            counts[i] += 1
            remaining[i] *= (beta[i].beta + Double(counts[i] - 1)) / (beta[i].alpha + beta[i].beta + Double(counts[i] - 1))
            left -= 1
            if counts[i] < maxPer { push((gain(i), i, counts[i])) }
        }
        return counts
    }
}
