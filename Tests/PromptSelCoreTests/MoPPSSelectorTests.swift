import Testing
@testable import PromptSelCore

func mopps(_ strategy: SelectionStrategy = .topk, seed: UInt64 = 0, decay: Double = 1,
           prior: (Double, Double) = (1, 1)) throws -> PromptSelector {
    var c = SelectorConfig(method: .mopps)
    c.strategy = strategy
    c.seed = seed
    c.decay = decay
    c.priorAlpha = prior.0
    c.priorBeta = prior.1
    return try PromptSelector(config: c)
}

@Suite("MoPPS update and queries")
struct MoPPSUpdateTests {
    @Test("update follows alpha <- l*alpha + (1-l)*alpha0 + s*k over several steps")
    func updateFormula() throws {
        let sel = try mopps(decay: 0.5, prior: (2, 3))
        var a = 2.0, b = 3.0
        for (s, k) in [(0.25, Int32(8)), (1.0, 4), (0.0, 16), (0.5, 1)] {
            try sel.update(ids: [7], rates: [s], rollouts: [k])
            a = 0.5 * a + 0.5 * 2 + s * Double(k)
            b = 0.5 * b + 0.5 * 3 + (1 - s) * Double(k)
        }
        let p = try sel.posterior([7])
        #expect(p.alpha == [a] && p.beta == [b])
        #expect(try sel.predict([7]) == [a / (a + b)])
    }

    @Test("duplicate ids in one update apply in order; only updated ids change")
    func duplicates() throws {
        let sel = try mopps(decay: 0.8)
        _ = try sel.select(candidates: [1, 2, 3], batchSize: 1)
        try sel.update(ids: [1, 1], rates: [1, 0], rollouts: [8, 8])
        var a = 1.0, b = 1.0
        a = 0.8 * a + 0.2 + 8; b = 0.8 * b + 0.2
        a = 0.8 * a + 0.2; b = 0.8 * b + 0.2 + 8
        let p = try sel.posterior([1, 2, 3])
        #expect(p.alpha == [a, 1, 1] && p.beta == [b, 1, 1])
    }

    @Test("queries of unseen ids give the prior and create nothing")
    func unseen() throws {
        let sel = try mopps(prior: (2, 6))
        #expect(try sel.predict([99, -5]) == [0.25, 0.25])
        #expect(try sel.posterior([Int64.max]).alpha == [2])
        #expect(sel.count == 0)
    }

    @Test("invalid updates throw and change nothing", arguments: [
        ([Double.nan], [Int32(8)], PromptSelStatus.invalidArgument),
        ([1.5], [8], .outOfRange), ([-0.01], [8], .outOfRange), ([0.5], [0], .outOfRange), ([0.5], [-3], .outOfRange),
    ])
    func invalidUpdate(_ c: ([Double], [Int32], PromptSelStatus)) throws {
        let sel = try mopps()
        try sel.update(ids: [1], rates: [0.5], rollouts: [8])
        let before = sel.serialized()
        // The bad value comes second: the first must not be applied either.
        #expect(throws: PromptSelError.self) { try sel.update(ids: [1, 2], rates: [0.5] + c.0, rollouts: [8] + c.1) }
        do { try sel.update(ids: [1, 2], rates: [0.5] + c.0, rollouts: [8] + c.1) } catch { #expect(error.status == c.2) }
        #expect(sel.serialized() == before)
    }

    @Test("no_update validates but freezes the posterior")
    func noUpdate() throws {
        var c = SelectorConfig(method: .mopps)
        c.noUpdate = true
        let sel = try PromptSelector(config: c)
        try sel.warmStart(ids: [4], successes: [2], trials: [8], weight: 3)
        try sel.update(ids: [4], rates: [1], rollouts: [8])
        #expect(try sel.posterior([4]).alpha == [7] && (try sel.posterior([4]).beta) == [19])
        #expect(throws: PromptSelError.self) { try sel.update(ids: [4], rates: [2], rollouts: [8]) }
    }

    @Test("warm start replaces the state: alpha0 + w*successes, beta0 + w*failures")
    func warmStart() throws {
        let sel = try mopps(prior: (1, 2))
        try sel.update(ids: [3], rates: [1], rollouts: [8])
        try sel.warmStart(ids: [3, 9], successes: [5, 0], trials: [8, 8], weight: 3)
        let p = try sel.posterior([3, 9])
        #expect(p.alpha == [16, 1] && p.beta == [11, 26])
        #expect(throws: PromptSelError.self) { try sel.warmStart(ids: [1], successes: [9], trials: [8], weight: 3) }
        #expect(throws: PromptSelError.self) { try sel.warmStart(ids: [1], successes: [1], trials: [8], weight: -1) }
    }

    @Test("config validation names the field", arguments: [
        { (c: inout SelectorConfig) in c.decay = 0 }, { c in c.decay = 1.5 }, { c in c.target = .nan },
        { c in c.lower = 0.8 }, { c in c.priorAlpha = 0 }, { c in c.priorBeta = -1 }, { c in c.strategy = .topkEntropy },
    ] as [@Sendable (inout SelectorConfig) -> Void])
    func badConfig(_ mutate: @Sendable (inout SelectorConfig) -> Void) {
        var c = SelectorConfig(method: .mopps)
        mutate(&c)
        #expect(throws: PromptSelError.self) { try PromptSelector(config: c) }
    }
}

@Suite("Selection rules")
struct SelectionRuleTests {
    @Test("smallest(k) equals a full sort by (key, position)", arguments: [1, 7, 64, 200])
    func smallestMatchesSort(_ k: Int) {
        var rng = Xoshiro256StarStar(seed: UInt64(k))
        // Few distinct values, so ties are common.
        let keys = (0..<200).map { _ in Double(rng.nextBelow(20)) }
        let expected = Array((0..<200).sorted { (keys[$0], $0) < (keys[$1], $1) }.prefix(k))
        #expect(SelectionRules.smallest(k, keys: keys) == expected)
    }

    @Test("topk picks the B draws nearest the target, nearest first")
    func topk() throws {
        let sel = try mopps(seed: 3)
        let cands = Array(Int64(0)..<Int64(100))
        // A single candidate's draws: Beta(1,1); compare with brute force on the same stream.
        var rng = Xoshiro256StarStar(seed: 3)
        let r = cands.map { _ in BetaSampler.beta(1, 1, &rng) }
        let want = Array((0..<100).sorted { (abs(r[$0] - 0.5), $0) < (abs(r[$1] - 0.5), $1) }.prefix(10))
        let got = try sel.select(candidates: cands, batchSize: 10)
        #expect(got.positions == want)
        #expect(got.scores == want.map { r[$0] })
    }

    @Test("threshold: a uniform subset of the in-range draws when there are enough")
    func thresholdEnough() {
        var rng = Xoshiro256StarStar(seed: 1)
        let draws = [0.1, 0.35, 0.5, 0.9, 0.65, 0.3, 0.7]
        var seen = Set<Int>()
        for _ in 0..<200 {
            let chosen = SelectionRules.threshold(draws: draws, k: 2, lower: 0.3, upper: 0.7, rng: &rng)
            #expect(chosen.count == 2 && Set(chosen).count == 2)
            #expect(chosen.allSatisfy { draws[$0] >= 0.3 && draws[$0] <= 0.7 })
            seen.formUnion(chosen)
        }
        #expect(seen == [1, 2, 4, 5, 6])  // every in-range draw gets picked sometimes (bounds inclusive)
    }

    @Test("threshold: too few inside → all of them, then the nearest outside")
    func thresholdFew() {
        var rng = Xoshiro256StarStar(seed: 1)
        let draws = [0.05, 0.5, 0.95, 0.25, 0.8]
        let chosen = SelectionRules.threshold(draws: draws, k: 3, lower: 0.3, upper: 0.7, rng: &rng)
        #expect(chosen == [1, 3, 4])
    }

    @Test("uniform: distinct and every position equally likely")
    func uniform() {
        var rng = Xoshiro256StarStar(seed: 9)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<10000 {
            let c = SelectionRules.uniform(n: 10, k: 3, rng: &rng)
            #expect(Set(c).count == 3)
            for p in c { counts[p] += 1 }
        }
        #expect(counts.allSatisfy { abs($0 - 3000) < 250 })
    }

    @Test("select validates the batch before drawing", arguments: [0, 11, -1])
    func badBatch(_ b: Int) throws {
        let sel = try mopps()
        let before = sel.serialized()
        #expect(throws: PromptSelError.self) { try sel.select(candidates: Array(0..<10), batchSize: b) }
        #expect(throws: PromptSelError.self) { try sel.select(candidates: [], batchSize: 1) }
        #expect(sel.serialized() == before)
    }

    @Test("duplicate candidate ids are separate positions sharing one posterior")
    func duplicateCandidates() throws {
        let sel = try mopps()
        let got = try sel.select(candidates: [5, 5, 5], batchSize: 3)
        #expect(Set(got.positions) == [0, 1, 2])
        #expect(sel.count == 1)
    }
}

@Suite("Prompt table")
struct PromptTableTests {
    @Test("agrees with Dictionary over random sparse ids, in first-seen order")
    func matchesDictionary() {
        var table = PromptTable<Int>()
        var dict: [Int64: Int] = [:]
        var rng = Xoshiro256StarStar(seed: 5)
        for step in 0..<50000 {
            let id = Int64(bitPattern: rng.next() % 3 == 0 ? rng.next() : rng.next() % 20000)
            let (i, inserted) = table.insert(id, step)
            if let j = dict[id] { #expect(!inserted && i == j) } else { #expect(inserted); dict[id] = i }
        }
        #expect(table.count == dict.count)
        let ids = table.ids
        for (id, i) in dict { #expect(table.index(of: id) == i && ids[i] == id) }
        #expect(table.index(of: 123_456_789_012) == nil)
    }

    @Test("resolve equals inserting or looking up one id at a time, duplicates included")
    func resolveMatchesInsert() {
        var batched = PromptTable<Int>(), single = PromptTable<Int>()
        var rng = Xoshiro256StarStar(seed: 6)
        for round in 0..<60 {
            let pool = (0..<500).map { _ in Int64(rng.nextBelow(round < 30 ? 3000 : 60000)) - 100 }
            let looked = batched.resolve(pool, inserting: nil)
            #expect(looked == pool.map { single.index(of: $0) ?? -1 })
            #expect(batched.resolve(pool, inserting: round) == pool.map { single.insert($0, round).index })
        }
        #expect(batched.ids == single.ids && batched.entries.map(\.value) == single.entries.map(\.value))
        #expect(PromptTable.load(ids: [1, 2, 1], values: [0, 0, 0]) == nil)
    }
}
