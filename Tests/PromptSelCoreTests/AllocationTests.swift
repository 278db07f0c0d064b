#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import PromptSelCore

/// The heap greedy that `Acquisition.allocate` used to be (O(budget log n)), kept
/// verbatim as the reference: the budget-independent allocation must equal it.
func referenceAllocate(_ beta: [(alpha: Double, beta: Double)], budget: Int, minPer: Int, maxPer: Int) -> [Int] {
    func powerMean(_ a: Double, _ b: Double, _ k: Int) -> Double {
        var m = 1.0
        for j in 0..<k { m *= (a + Double(j)) / (a + b + Double(j)) }
        return m
    }
    let n = beta.count
    var counts = [Int](repeating: minPer, count: n)
    var remaining = beta.map { powerMean($0.beta, $0.alpha, minPer) }
    var left = budget - minPer * n
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

@Suite("Test-time allocation: budget-independent, equal to the heap greedy")
struct AllocationTests {
    /// Log-uniform shapes in [0.05, 50]: never exactly equal unless copied, so the
    /// only ties are the copies' (prompts whose gains are equal mathematically but
    /// computed along different paths would round either way).
    static func shapes(_ n: Int, copies: Int, rng: inout Xoshiro256StarStar) -> [(alpha: Double, beta: Double)] {
        func draw(_ rng: inout Xoshiro256StarStar) -> Double { 0.05 * pow(1000, rng.nextOpenUnit()) }
        var beta = (0..<n).map { _ in (alpha: draw(&rng), beta: draw(&rng)) }
        for _ in 0..<min(copies, n) { beta[rng.nextBelow(n)] = beta[rng.nextBelow(n)] }
        return beta
    }

    @Test("equals the heap greedy on random cases, with tied prompts and every budget regime")
    func equalsGreedy() throws {
        var rng = Xoshiro256StarStar(seed: 17)
        for round in 0..<400 {
            let n = 1 + rng.nextBelow(round < 200 ? 12 : 300)
            let beta = AllocationTests.shapes(n, copies: rng.nextBelow(n + 1), rng: &rng)
            let minPer = rng.nextBelow(4)
            let maxPer = minPer + [0, 1, 3, 40, 400, 1 << 40][rng.nextBelow(6)]
            // Below, around and beyond what the caps can take (capped at 20 per prompt
            // for the reference's sake when the caps are effectively absent).
            let room = min(maxPer - minPer, 60) * n
            let budget = minPer * n + [0, 1, rng.nextBelow(room + 1), room, room + 5][rng.nextBelow(5)]
            let expected = referenceAllocate(beta, budget: budget, minPer: minPer, maxPer: maxPer)
            let got = try Acquisition.allocate(beta, budget: budget, minPer: minPer, maxPer: maxPer)
            #expect(got == expected, "round \(round): n \(n), budget \(budget), min \(minPer), max \(maxPer)")
            if got != expected { return }
        }
    }

    @Test("large budgets against the greedy: the bisection, not only the enumeration of the last pairs")
    func equalsGreedyLarge() throws {
        var rng = Xoshiro256StarStar(seed: 5)
        for round in 0..<6 {
            let n = 20 + rng.nextBelow(200)
            let beta = AllocationTests.shapes(n, copies: n / 4, rng: &rng)
            let budget = 200_000 + rng.nextBelow(300_000)
            let maxPer = round % 2 == 0 ? budget : 5_000
            let expected = referenceAllocate(beta, budget: budget, minPer: 1, maxPer: maxPer)
            #expect(try Acquisition.allocate(beta, budget: budget, minPer: 1, maxPer: maxPer) == expected)
        }
    }

    @Test("identical prompts share by index, lowest first, as the greedy's tie-break")
    func tieBreak() throws {
        let beta: [(alpha: Double, beta: Double)] = [(1.5, 2.5)] + Array(repeating: (2.0, 2.0), count: 5)
        for budget in 0...40 {
            let got = try Acquisition.allocate(beta, budget: budget, minPer: 0, maxPer: 6)
            #expect(got == referenceAllocate(beta, budget: budget, minPer: 0, maxPer: 6))
            #expect(got.reduce(0, +) == min(budget, 36))
            // Among the copies, counts never increase with the index.
            #expect(zip(got.dropFirst(), got.dropFirst(2)).allSatisfy { $0 >= $1 })
        }
    }

    @Test("any budget in bounded time: 2^31 - 1 samples over 5000 prompts")
    func hugeBudget() throws {
        var rng = Xoshiro256StarStar(seed: 9)
        let beta = AllocationTests.shapes(5000, copies: 500, rng: &rng)
        let clock = ContinuousClock()
        let budget = Int(Int32.max)
        var counts: [Int] = []
        let elapsed = try clock.measure {
            counts = try Acquisition.allocate(beta, budget: budget, minPer: 1, maxPer: budget)
        }
        #expect(counts.reduce(0, +) == budget)
        #expect(counts.allSatisfy { $0 >= 1 })
        // A debug build is several times slower than the release library (there well
        // under a second); the old greedy took about 80 s here.
        #expect(elapsed < .seconds(20), "took \(elapsed)")
        // Everyone capped: the caps, at once.
        #expect(try Acquisition.allocate(beta, budget: budget, minPer: 0, maxPer: 7) == [Int](repeating: 7, count: 5000))
    }

    @Test("the closed-form log gains match the products, and fall with every sample")
    func logGains() {
        for (a, b) in [(0.05, 0.05), (1.0, 1.0), (3.7, 0.2), (0.3, 40.0), (1e-12, 1e-12), (50.0, 1e6)] {
            let table = GainTable([(a, b)], minPer: 0)
            var remaining = 1.0
            var previous = Double.infinity
            for c in 0..<300 {
                let gain = remaining * a / (a + b + Double(c))
                let key = table.key(0, c)
                #expect(abs(key - log(gain)) <= 1e-10 * max(1, abs(key)), "a \(a) b \(b) c \(c)")
                #expect(key < previous)
                previous = key
                remaining *= (b + Double(c)) / (a + b + Double(c))
            }
            // Strictly decreasing far out too, where lnGamma itself is 10^10.
            var last = table.key(0, (1 << 31) - 1000)
            for c in ((1 << 31) - 999)..<(1 << 31) {
                let k = table.key(0, c)
                #expect(k < last, "a \(a) b \(b) c \(c)")
                last = k
            }
        }
    }

    @Test("E[p^k] for large k: the closed form agrees with the product")
    func powerMeanClosedForm() {
        for (a, b) in [(0.05, 0.05), (1.0, 1.0), (3.7, 0.2), (0.3, 40.0), (1e-12, 1e-12), (50.0, 1e6), (1e15, 1.0)] {
            var product = 1.0
            for k in 0..<3000 {
                if k > 64, product > 1e-300 {
                    let closed = Acquisition.powerMean(a, b, k)
                    #expect(abs(closed - product) <= 1e-10 * product, "a \(a) b \(b) k \(k)")
                }
                product *= (a + Double(k)) / (a + b + Double(k))
            }
        }
        #expect(Acquisition.informative(2, 3, k: 1 << 20) >= 0)
    }
}
