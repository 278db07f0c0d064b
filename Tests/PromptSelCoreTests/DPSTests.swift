import Foundation
import Testing
@testable import PromptSelCore

/// The reference's rule written out directly: every known prompt is touched on
/// every step (O(#known) per step), as the authors' sampler does.
final class EagerDPS {
    var states: [Int64: DPSPromptState] = [:]
    var order: [Int64] = []
    let model: DPSModel  // only for its prior, decay and step functions' formulas

    init(_ c: SelectorConfig) { model = DPSModel(config: c) }

    func see(_ id: Int64) {
        if states[id] == nil { states[id] = model.prior; order.append(id) }
    }

    func step(_ ids: [Int64], _ rates: [Double]) {
        for (id, s) in zip(ids, rates) {
            see(id)
            states[id] = model.observedStep(states[id]!, SolvingState(successRate: s))
        }
        let observed = Set(ids)
        for id in order where !observed.contains(id) {
            states[id] = model.unobservedStep(states[id]!)
        }
    }
}

func dpsConfig(_ shape: DPSPriorShape = .constant, c: Double = 1, pi: DPSPriorPi = .uniform, decay: Double = 1,
               strategy: SelectionStrategy = .topk, seed: UInt64 = 0) -> SelectorConfig {
    var cfg = SelectorConfig(method: .dps)
    cfg.dpsPriorShape = shape
    cfg.dpsPriorAlpha = c
    cfg.dpsPriorPi = pi
    cfg.dpsTransitionDecay = decay
    cfg.strategy = strategy
    cfg.seed = seed
    return cfg
}

func close(_ a: Double, _ b: Double, rel: Double = 1e-12) -> Bool {
    abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300
}

@Suite("DPS")
struct DPSTests {
    @Test("worked example: one partial observation gives [0.3, 0.4, 0.3], solved [0.3, 0.3, 0.4]")
    func workedExample() throws {
        let sel = try PromptSelector(config: dpsConfig())
        try sel.update(ids: [1, 2], rates: [0.5, 1], rollouts: [8, 8])
        let p = try sel.stateProbs([1, 2, 3])
        for (got, want) in zip(p, [SIMD3(0.3, 0.4, 0.3), SIMD3(0.3, 0.3, 0.4), SIMD3(1.0 / 3, 1.0 / 3, 1.0 / 3)]) {
            for k in 0..<3 { #expect(close(got[k], want[k])) }
        }
        #expect(sel.count == 2)  // queries create nothing
    }

    static let lazyCases: [(DPSPriorShape, Double, DPSPriorPi, Double)] = [
        (.constant, 1, .uniform, 1), (.constant, 0.5, .unsolved, 0.9), (.progress, 1, .uniform, 0.7),
        (.stability, 1, .solved, 0.5), (.local, 1, .partial, 1), (.local, 1, .uniform, 0.8), (.constant, 2, .partial, 0.99),
    ]

    @Test("lazy propagation equals the eager rule over long random histories", arguments: lazyCases)
    func lazyEqualsEager(_ c: (DPSPriorShape, Double, DPSPriorPi, Double)) throws {
        let cfg = dpsConfig(c.0, c: c.1, pi: c.2, decay: c.3, seed: 4)
        let lazy = try PromptSelector(config: cfg)
        let eager = EagerDPS(cfg)
        var rng = Xoshiro256StarStar(seed: 99)
        // 300 prompts, 400 steps; some prompts are seen once and then wait hundreds of
        // steps (long gaps), a hot set is observed often.
        for step in 0..<400 {
            let pool = (0..<24).map { _ in Int64(rng.nextBelow(step < 20 ? 300 : (rng.nextBelow(4) == 0 ? 300 : 40))) }
            let chosen = try lazy.select(candidates: pool, batchSize: 6)
            for id in pool { eager.see(id) }
            let ids = chosen.positions.map { pool[$0] }
            let rates = ids.map { _ in [0.0, 1.0, 0.375, 0.5, 1.0, 0.0][rng.nextBelow(6)] }
            try lazy.update(ids: ids, rates: rates, rollouts: Array(repeating: 8, count: ids.count))
            eager.step(ids, rates)
            if step % 97 == 0 || step == 399 {
                let got = try lazy.dpsStates(eager.order)
                for (id, g) in zip(eager.order, got) {
                    let e = eager.states[id]!
                    for k in 0..<9 { #expect(close(g.state.alpha.v[k], e.alpha.v[k]), "alpha[\(k)] of \(id) at step \(step)") }
                    for k in 0..<3 {
                        #expect(close(g.state.pi[k], e.pi[k]), "pi[\(k)] of \(id) at step \(step): \(g.state.pi[k]) vs \(e.pi[k])")
                        #expect(close(g.state.piBefore[k], e.piBefore[k]), "pi_before[\(k)] of \(id)")
                    }
                }
            }
        }
        #expect(lazy.ids == eager.order)
    }

    @Test("reads do not change later values: a selector queried every step ends bit-identical", arguments: [1.0, 0.7, 0.5])
    func readsArePure(_ decay: Double) throws {
        let cfg = dpsConfig(.progress, decay: decay, seed: 2)
        let quiet = try PromptSelector(config: cfg), noisy = try PromptSelector(config: cfg)
        var rng = Xoshiro256StarStar(seed: 8)
        let all = (0..<50).map { Int64($0) }
        _ = try quiet.stateProbs(all)
        for _ in 0..<300 {
            let ids = (0..<3).map { _ in Int64(rng.nextBelow(rng.nextBelow(5) == 0 ? 50 : 5)) }
            let rates = ids.map { _ in [0.0, 0.5, 1.0][rng.nextBelow(3)] }
            for s in [quiet, noisy] { try s.update(ids: ids, rates: rates, rollouts: [8, 8, 8]) }
            if rng.nextBelow(3) == 0 { _ = try noisy.stateProbs(all.shuffled()) }
        }
        #expect(try quiet.dpsStates(all).map(\.state) == noisy.dpsStates(all).map(\.state))
    }

    @Test("a jump unsolved → solved under the local prior stays finite (the reference turns NaN)")
    func localPriorJump() throws {
        let sel = try PromptSelector(config: dpsConfig(.local))
        try sel.update(ids: [7], rates: [0], rollouts: [8])
        try sel.update(ids: [7], rates: [1], rollouts: [8])
        let s = try sel.dpsStates([7])[0].state
        #expect((0..<9).allSatisfy { s.alpha.v[$0].isFinite })
        #expect(s.alpha[2, 0] > 0)  // the observed jump was counted
        #expect(abs(s.pi.sum() - 1) < 1e-12 && s.pi.max() <= 1)
    }

    @Test("topk prefers likely-partial prompts; ties are broken by the seeded generator")
    func topkAndTies() throws {
        let a = try PromptSelector(config: dpsConfig(seed: 1))
        try a.update(ids: [10, 11, 12], rates: [0.5, 1, 0], rollouts: [8, 8, 8])
        // 10 (partial) first, then the 20 unseen prompts tie at 1/3; 11 and 12 last.
        let cands: [Int64] = [11, 12] + (100..<120).map { Int64($0) } + [10]
        let x = try a.select(candidates: cands, batchSize: 5)
        #expect(x.positions[0] == 22 && x.scores[0] == 0.4)
        #expect(x.positions.dropFirst().allSatisfy { (2..<22).contains($0) })
        // Another seed orders the tie differently; the same seed repeats it.
        let b = try PromptSelector(config: dpsConfig(seed: 2)), c = try PromptSelector(config: dpsConfig(seed: 1))
        for s in [b, c] { try s.update(ids: [10, 11, 12], rates: [0.5, 1, 0], rollouts: [8, 8, 8]) }
        #expect(try c.select(candidates: cands, batchSize: 5) == x)
        #expect(try b.select(candidates: cands, batchSize: 5).positions != x.positions)
    }

    @Test("topk+entropy adds w·H(pi) with the reference's entropy")
    func entropyStrategy() throws {
        let sel = try PromptSelector(config: dpsConfig(strategy: .topkEntropy, seed: 0).with { $0.dpsEntropyWeight = 0.5 })
        try sel.update(ids: [1, 2], rates: [0.5, 1], rollouts: [8, 8])
        let got = try sel.select(candidates: [1, 2, 3], batchSize: 3)
        let p = try sel.stateProbs([1, 2, 3])
        let want = p.map { $0[1] + 0.5 * -($0[0] * log($0[0] + 1e-10) + $0[1] * log($0[1] + 1e-10) + $0[2] * log($0[2] + 1e-10)) }
        #expect(got.scores == got.positions.map { want[$0] })
        #expect(got.scores == got.scores.sorted(by: >))
        #expect(got.positions == [0, 2, 1])  // partial 0.4 + 0.5·1.089 > uniform 0.333 + 0.5·1.099 > solved
    }

    @Test("no_update freezes the beliefs and the step")
    func noUpdate() throws {
        let sel = try PromptSelector(config: dpsConfig().with { $0.noUpdate = true })
        try sel.update(ids: [1], rates: [0.5], rollouts: [8])
        #expect(try sel.stateProbs([1])[0] == SIMD3(repeating: 1.0 / 3))
        #expect(try sel.dpsStates([1])[0].sampled == 0)
    }

    @Test("diagnostics: accuracy, partial precision/recall of the last update; summary")
    func diagnostics() throws {
        let sel = try PromptSelector(config: dpsConfig())
        try sel.update(ids: [1, 2, 3], rates: [0.5, 1, 0.5], rollouts: [8, 8, 8])
        // Now 1 and 3 predict partial, 2 predicts solved.
        try sel.update(ids: [1, 2, 3], rates: [0.5, 0.5, 0], rollouts: [8, 8, 8])
        let s = try sel.dpsUpdateStats()
        #expect(s.observed == 3)
        #expect(s.accuracy == 1.0 / 3)
        #expect(s.partialPrecision == 0.5 && s.partialRecall == 0.5)
        let sum = try sel.dpsSummary()
        #expect(sum.prompts == 3 && sum.sampledMax == 2 && sum.sampledMin == 2 && sum.sampledStd == 0)
        #expect(sum.meanEntropy > 0 && sum.meanEntropy < log(3))
    }

    @Test("summary: variances of the counts and beliefs across prompts, belief max/min means (two-pass reference)")
    func spreadMetrics() throws {
        let sel = try PromptSelector(config: dpsConfig(.progress, decay: 0.7, seed: 4))
        var rng = Xoshiro256StarStar(seed: 8)
        for _ in 0..<12 {
            let pool = (0..<40).map { _ in Int64(rng.nextBelow(60)) }
            let got = try sel.select(candidates: pool, batchSize: 8)
            try sel.update(ids: got.positions.map { pool[$0] }, rates: got.positions.map { _ in [0, 0.5, 1][rng.nextBelow(3)] },
                           rollouts: [Int32](repeating: 8, count: 8))
        }
        let ids = sel.ids
        let rows = sel.state(ids)
        let n = Double(ids.count)
        func column(_ c: Int) -> [Double] { (0..<ids.count).map { rows[16 * $0 + c] } }
        func variance(_ x: [Double]) -> Double {
            let m = x.reduce(0, +) / n
            return x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / n
        }
        let alphaVariance = (3..<12).map { variance(column($0)) }.reduce(0, +) / 9
        let beliefVariance = (0..<3).map { variance(column($0)) }.reduce(0, +) / 3
        let beliefs: [[Double]] = (0..<ids.count).map { (i: Int) -> [Double] in Array(rows[(16 * i)..<(16 * i + 3)]) }
        let s = try sel.dpsSummary()
        #expect(alphaVariance > 0 && beliefVariance > 0)
        #expect(close(s.alphaVariance, alphaVariance, rel: 1e-10))
        #expect(close(s.beliefVariance, beliefVariance, rel: 1e-10))
        #expect(close(s.beliefMaxMean, beliefs.map { $0.max()! }.reduce(0, +) / n))
        #expect(close(s.beliefMinMean, beliefs.map { $0.min()! }.reduce(0, +) / n))
        let all = sel.metrics(.all)
        let names = DPSModel.info.metrics(.all).map(\.name)
        #expect(Array(names.suffix(4)) == ["alpha_variance", "belief_variance", "belief_max_mean", "belief_min_mean"])
        #expect(Array(all.suffix(4)) == [s.alphaVariance, s.beliefVariance, s.beliefMaxMean, s.beliefMinMean])
        // Every prompt at the prior: no spread; an empty selector: NaN.
        let fresh = try PromptSelector(config: dpsConfig())
        _ = try fresh.select(candidates: [1, 2, 3], batchSize: 1)
        let f = try fresh.dpsSummary()
        #expect(f.alphaVariance == 0 && f.beliefVariance == 0)
        #expect(close(f.beliefMaxMean, 1.0 / 3) && close(f.beliefMinMean, 1.0 / 3))
        #expect(try PromptSelector(config: dpsConfig()).dpsSummary().alphaVariance.isNaN)
    }

    @Test("summary variances stay exact for counts near the ceiling (Welford, not sum of squares)")
    func spreadMetricsLargeCounts() throws {
        let sel = try PromptSelector(config: dpsConfig())
        // Counts around 1e12 that differ by 0..<4: a sum of squares would lose them all.
        var rows: [Double] = []
        for k in 0..<4 {
            let third: [Double] = [1.0 / 3, 1.0 / 3, 1.0 / 3]
            let counts = [Double](repeating: 1e12 + Double(k), count: 9)
            rows += third + counts + third + [0]
        }
        try sel.setState(ids: [1, 2, 3, 4], rows: rows)
        #expect(close(try sel.dpsSummary().alphaVariance, 1.25, rel: 1e-9))  // var(0, 1, 2, 3)
    }

    @Test("checkpoint round trip keeps lazy bookkeeping; the restored run is identical")
    func checkpoint() throws {
        let a = try PromptSelector(config: dpsConfig(.progress, decay: 0.7, seed: 3))
        var rng = Xoshiro256StarStar(seed: 5)
        func step(_ s: PromptSelector, _ r: inout Xoshiro256StarStar) throws -> Selection {
            let pool = (0..<30).map { _ in Int64(r.nextBelow(100)) }
            let got = try s.select(candidates: pool, batchSize: 5)
            try s.update(ids: got.positions.map { pool[$0] }, rates: got.positions.map { _ in [0, 0.5, 1][r.nextBelow(3)] },
                         rollouts: Array(repeating: 8, count: 5))
            return got
        }
        for _ in 0..<30 { _ = try step(a, &rng) }
        let b = try PromptSelector.deserialize(a.serialized())
        #expect(b.serialized() == a.serialized())
        var r1 = rng, r2 = rng
        for _ in 0..<30 { #expect(try step(a, &r1) == step(b, &r2)) }
        #expect(b.serialized() == a.serialized())
    }

    @Test("importing states validates and renormalises")
    func importStates() throws {
        let sel = try PromptSelector(config: dpsConfig())
        let good = DPSPromptState(alpha: TransitionCounts([[2, 1, 1], [1, 2, 1], [1, 1, 2]]), pi: SIMD3(0.2, 0.5, 0.3), piBefore: SIMD3(0, 1, 0))
        try sel.setDPSStates(ids: [4], states: [good], sampled: [3])
        #expect(try sel.dpsStates([4])[0].state == good && (try sel.dpsStates([4])[0].sampled) == 3)
        var bad = good
        bad.pi = SIMD3(.nan, 0.5, 0.5)
        let before = sel.serialized()
        #expect(throws: PromptSelError.self) { try sel.setDPSStates(ids: [4, 5], states: [good, bad], sampled: [1, 1]) }
        #expect(sel.serialized() == before)
        #expect(throws: PromptSelError.self) { try sel.posterior([4]) }
    }
}


