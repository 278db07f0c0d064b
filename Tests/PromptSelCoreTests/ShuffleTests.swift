import Testing
@testable import PromptSelCore

@Suite("Shuffle with the selector's generator")
struct ShuffleTests {
    @Test("a permutation, reproducible from the generator's state, advancing it")
    func permutation() throws {
        var a = Xoshiro256StarStar(seed: 11)
        var b = a
        var x = Array(Int64(0)..<100), y = x
        SelectionRules.shuffle(&x, rng: &a)
        SelectionRules.shuffle(&y, rng: &b)
        #expect(x == y && a == b)
        #expect(x.sorted() == Array(0..<100) && x != Array(0..<100))
        #expect(a != Xoshiro256StarStar(seed: 11))
        // Nothing to do for 0 or 1 values: no draw.
        var empty: [Int64] = [], one: [Int64] = [7]
        let before = a
        SelectionRules.shuffle(&empty, rng: &a)
        SelectionRules.shuffle(&one, rng: &a)
        #expect(a == before && one == [7])
    }

    @Test("forward Fisher-Yates with nextBelow, as the header documents")
    func documentedAlgorithm() {
        var rng = Xoshiro256StarStar(seed: 3), mirror = rng
        var x: [Int64] = [10, 20, 30, 40, 50, 60]
        var y = x
        SelectionRules.shuffle(&x, rng: &rng)
        for i in 0..<(y.count - 1) { y.swapAt(i, i + mirror.nextBelow(y.count - i)) }
        #expect(x == y && rng == mirror)
    }

    @Test("every permutation of 4 about equally likely (chi-square, 23 degrees of freedom)")
    func uniform() {
        var rng = Xoshiro256StarStar(seed: 2026)
        var counts: [[Int64]: Int] = [:]
        let draws = 24_000
        for _ in 0..<draws {
            var x: [Int64] = [0, 1, 2, 3]
            SelectionRules.shuffle(&x, rng: &rng)
            counts[x, default: 0] += 1
        }
        #expect(counts.count == 24)
        let expected = Double(draws) / 24
        let chi2 = counts.values.map { (Double($0) - expected) * (Double($0) - expected) / expected }.reduce(0, +)
        #expect(chi2 < 60, "chi-square \(chi2)")  // p < 1e-4 for 23 dof
    }

    @Test("the selector's shuffle uses the checkpointed generator: a restored selector shuffles identically")
    func checkpoint() throws {
        let a = try PromptSelector(method: "dps", params: "seed=9 strategy=uniform")
        var v = Array(Int64(0)..<50)
        a.shuffle(&v)
        _ = try a.select(candidates: Array(0..<20), batchSize: 4)
        let b = try PromptSelector.deserialize(a.serialized())
        for _ in 0..<3 {
            var x = Array(Int64(0)..<50), y = x
            a.shuffle(&x)
            b.shuffle(&y)
            #expect(x == y)
            #expect(try a.select(candidates: Array(0..<20), batchSize: 4) == b.select(candidates: Array(0..<20), batchSize: 4))
        }
    }
}
