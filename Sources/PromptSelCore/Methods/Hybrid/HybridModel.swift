/// hybrid: per-prompt Beta posteriors (as MoPPS) whose prior is the shared feature
/// model's prediction for the prompt, moment-matched to a Beta with a bounded
/// strength, instead of a fixed Beta(1, 1) (docs/GPS.md). A prompt never rolled out
/// starts from what similar prompts taught the model; a prompt with its own history
/// is dominated by it. The posterior is the moving prior plus the prompt's own
/// discounted evidence, so the discount pulls towards the current prior:
///
///     alpha = alpha0(t) + e_s,  beta = beta0(t) + e_f
///     e_s <- l e_s + s k,       e_f <- l e_f + (1 - s) k      (each update)
///
/// and every observation also updates the feature model.
public final class HybridModel: FeatureModel {
    public static let info = MethodInfo(
        name: "hybrid", checkpointID: 4,
        summary: "per-prompt Beta posteriors whose prior comes from the shared feature model (ours)",
        strategies: ["topk", "informative", "uniform"], defaultStrategy: "informative",
        parameters: FeatureParameters.specs + Diversity.specs + [
            .real("decay", 1.0, in: 0...1, minOpen: true, "lambda: discount of each prompt's own evidence per update"),
            .real("min_strength", 2, in: 1e-3...1e6, "least pseudo-count (a0 + b0) of the feature prior"),
            .real("max_strength", 20, in: 1e-3...1e6, "largest pseudo-count of the feature prior"),
            .real("target", 0.5, in: 0...1, "topk: Thompson draws nearest this success rate are chosen"),
            .integer("rollouts", 8, in: 1...Int(CountBounds.maxRollouts),
                     "informative: the group size k whose mixed outcome is scored"),
            .flag("proportional", false, "informative: sample in proportion to the score instead of the top B"),
        ],
        state: [.init("evidence_successes", "the prompt's own discounted successes beyond the feature prior"),
                .init("evidence_failures", "the prompt's own discounted failures beyond the feature prior"),
                .init("sampled", "times the prompt was observed")],
        metrics: FeatureParameters.stepMetrics)

    public struct Entry: FeatureEntry {
        public var row: Int32
        var sampled: UInt32 = 0
        var successes = 0.0
        var failures = 0.0
        public init(row: Int32) { self.row = row }
    }

    public var table = PromptTable<Entry>()
    public var model: BayesianLogistic
    public var features: FeatureStore
    let strategy: String
    let decay, minStrength, maxStrength, target: Double
    let rollouts: Int
    let proportional: Bool
    public var lastUpdate = FeatureStepStats()
    public var diversity: Diversity

    public init(_ p: Parameters) throws(PromptSelError) {
        model = FeatureParameters.model(p)
        features = FeatureStore(dim: model.dim, width: model.size)
        diversity = Diversity(p)
        strategy = p.choice("strategy")
        (decay, minStrength, maxStrength, target) = (p.real("decay"), p.real("min_strength"), p.real("max_strength"),
                                                     p.real("target"))
        rollouts = p.integer("rollouts")
        proportional = p.flag("proportional")
        guard minStrength <= maxStrength else {
            throw .range("min_strength (\(minStrength)) must not exceed max_strength (\(maxStrength))")
        }
    }

    /// The posterior of each table slot: the feature prior plus the evidence.
    func posterior(_ slots: [Int]) -> [(alpha: Double, beta: Double)] {
        slots.map { i in
            let e = table.entries[i].value
            let (m, s) = model.predict(features.phiRow(Int(e.row)))
            let prior = Acquisition.momentMatched(mean: m, std: s, minStrength: minStrength, maxStrength: maxStrength)
            return (min(prior.alpha + e.successes, CountBounds.max), min(prior.beta + e.failures, CountBounds.max))
        }
    }

    public func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection {
        let slots = (try? self.slots(candidates)) ?? []
        let beta = posterior(slots)
        let phis = diversity.weight > 0 ? self.phis(slots) : []
        let scores: [Double]
        let chosen: [Int]
        switch strategy {
        case "uniform":
            scores = beta.map { $0.alpha / ($0.alpha + $0.beta) }
            chosen = SelectionRules.uniform(n: beta.count, k: batchSize, rng: &rng)
        case "informative":
            scores = beta.map { Acquisition.informative($0.alpha, $0.beta, k: rollouts) }
            chosen = proportional || diversity.weight == 0
                ? Acquisition.pick(scores, batch: batchSize, proportional: proportional, rng: &rng)
                : diversity.choose(utility: scores, phis: phis, batch: batchSize, rng: &rng)
        default:
            scores = beta.map { BetaSampler.beta($0.alpha, $0.beta, &rng) }
            chosen = diversity.weight == 0
                ? SelectionRules.nearest(draws: scores, k: batchSize, target: target)
                : diversity.choose(utility: scores.map { -($0 - target) * ($0 - target) }, phis: phis,
                                   batch: batchSize, rng: &rng)
        }
        return Selection(positions: chosen, scores: chosen.map { scores[$0] })
    }

    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        let slots = try self.slots(ids)
        learn(slots, rates: rates, rollouts: rollouts)
        for (j, i) in slots.enumerated() {
            let k = Double(rollouts[j])
            var e = table.entries[i].value
            e.successes = min(decay * e.successes + rates[j] * k, CountBounds.max)
            e.failures = min(decay * e.failures + (1 - rates[j]) * k, CountBounds.max)
            if e.sampled < UInt32.max { e.sampled += 1 }
            table.entries[i].value = e
        }
    }

    public func predict(_ ids: [Int64]) -> [Double] {
        posterior((try? slots(ids)) ?? []).map { $0.alpha / ($0.alpha + $0.beta) }
    }

    public func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)] {
        posterior(try slots(ids))
    }

    public func state(_ ids: [Int64], columns: Range<Int>) -> [Double] {
        var out: [Double] = []
        for id in ids {
            let e = table.index(of: id).map { table.entries[$0].value }
            let row = [e?.successes ?? 0, e?.failures ?? 0, Double(e?.sampled ?? 0)]
            out.append(contentsOf: row[columns])
        }
        return out
    }

    public var priorRow: [Double] { [0, 0, 0] }

    public func setState(ids: [Int64], rows: [Double]) throws(PromptSelError) {
        let slots = try self.slots(ids)
        for i in 0..<ids.count {
            let (s, f, t) = (rows[3 * i], rows[3 * i + 1], rows[3 * i + 2])
            try HybridModel.check(successes: s, failures: f, sampled: t, id: ids[i])
        }
        for (j, i) in slots.enumerated() {
            table.entries[i].value.successes = rows[3 * j]
            table.entries[i].value.failures = rows[3 * j + 1]
            table.entries[i].value.sampled = UInt32(rows[3 * j + 2])
        }
    }

    static func check(successes s: Double, failures f: Double, sampled t: Double, id: Int64) throws(PromptSelError) {
        guard s.isFinite, f.isFinite, s >= 0, f >= 0, s <= CountBounds.max, f <= CountBounds.max else {
            throw .range("evidence of id \(id) must lie in [0, \(CountBounds.max)], got (\(s), \(f))")
        }
        guard t >= 0, t <= Double(UInt32.max), t.rounded() == t else {
            throw .range("sampled of id \(id) is \(t) (need an integer 0 ... 2^32 - 1)")
        }
    }

    // MARK: - Checkpoint: the shared payload with each prompt's evidence and count.

    public func encode(_ w: inout ByteWriter) {
        encodeShared(&w) { w in
            for e in table.entries { w.f64(e.value.successes); w.f64(e.value.failures); w.u32(e.value.sampled) }
        }
    }

    public func decode(_ r: inout ByteReader) throws(PromptSelError) {
        var rows: [Double] = []
        let ids = try decodeShared(&r, ownBytes: 20) { (n, r) throws(PromptSelError) in
            rows.reserveCapacity(3 * n)
            for _ in 0..<n { rows += [try r.f64(), try r.f64(), Double(try r.u32())] }
        }
        do { try setState(ids: ids, rows: rows) } catch {
            throw .corrupt("checkpoint holds an invalid hybrid state: \(error.message)")
        }
    }
}
