import Testing
@testable import PromptSelCore

// Issue 17 items 1, 2, 4: the feature methods at any finite feature scale.
@Suite("Feature methods at any feature scale")
struct FeatureScaleTests {
    @Test("projection sees unit rows: finite and bounded for any finite float", arguments: [Float(1e38), 1e-38, 1e-45, 1])
    func projectionBounded(scale: Float) {
        let m = BayesianLogistic(dim: 40, rank: 8, priorVariance: 4, forget: 0.95, seed: 1)
        var rng = Xoshiro256StarStar(seed: 5)
        let x = (0..<40).map { _ in (rng.next() & 1 == 0 ? scale : -scale) }
        let phi = m.project(x)
        #expect(phi.count == 9 && phi[8] == 1)
        let squares = phi.dropLast().reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(squares.isFinite && squares > 0 && squares <= m.projectedBound)
        #expect(m.project(x.map { $0 / scale * 3 }).elementsEqual(phi) { abs($0 - $1) <= 1e-5 })
        #expect(m.project([Float](repeating: 0, count: 40)) == [Float](repeating: 0, count: 8) + [1])
    }

    @Test("diversity picks a full batch when every utility is NaN or infinite")
    func diversityNaN() throws {
        let d = Diversity(try Parameters(specs: Diversity.specs, text: "diversity=1", method: "gps"))
        var rng = Xoshiro256StarStar(seed: 2)
        let phis = (0..<20).map { i in ArraySlice([Float(i), 1, 0, 1]) }
        for bad in [Double.nan, .infinity, -.infinity] {
            let chosen = d.choose(utility: [Double](repeating: bad, count: 20), phis: phis, batch: 7, rng: &rng)
            #expect(chosen.count == 7 && Set(chosen).count == 7)
        }
        let nonFinite = (0..<5).map { _ in ArraySlice([Float.nan, .infinity, 1]) }
        #expect(d.choose(utility: [1, 2, 3, 4, 5], phis: nonFinite, batch: 5, rng: &rng).count == 5)
    }

    @Test("a checkpoint of huge features loads again", arguments: ["gps", "hybrid"])
    func hugeFeaturesRoundTrip(method: String) throws {
        let s = try PromptSelector(method: method, params: "dim=16,rank=4,diversity=0.5")
        let ids = Array(Int64(0)..<30)
        var rng = Xoshiro256StarStar(seed: 9)
        try s.setFeatures(ids: ids, rows: (0..<(30 * 16)).map { _ in rng.next() & 1 == 0 ? 3e38 : -3e38 })
        for _ in 0..<3 {
            let chosen = try s.select(candidates: ids, batchSize: 6)
            #expect(chosen.scores.allSatisfy { $0.isFinite })
            try s.update(ids: chosen.positions.map { ids[$0] }, rates: [0, 0.2, 0.4, 0.6, 0.8, 1],
                         rollouts: [Int32](repeating: 5, count: 6))
        }
        let bytes = s.serialized()
        let back = try PromptSelector.deserialize(bytes)
        #expect(back.serialized() == bytes)
    }
}

@Suite("Diversity's work is bounded")
struct DiversityWorkTests {
    @Test("the considered pool is max(8B, 512) until B * M * rank passes the limit, then shrinks, never below B")
    func considered() {
        #expect(Diversity.considered(count: 100_000, batch: 256, rank: 64) == 2048)
        #expect(Diversity.considered(count: 100_000, batch: 2048, rank: 64) == 16384)
        #expect(Diversity.considered(count: 100_000, batch: 4096, rank: 64) == 8192)
        #expect(Diversity.considered(count: 300, batch: 8, rank: 64) == 300)
        for b in [700, 3000, 4096, 20_000] {
            let m = Diversity.considered(count: 1_000_000, batch: b, rank: 64)
            #expect(m >= b && (m == b || Diversity.work(batch: b, m: m, rank: 64) <= Diversity.workLimit))
        }
        #expect(Diversity.considered(count: 1 << 40, batch: 1 << 31, rank: 256) == 1 << 31)
    }
}
