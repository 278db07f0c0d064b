/// GPS-style selection (arXiv 2602.01970): one small Bayesian model of success as a
/// function of prompt features, trained on the shared history of every prompt, so it
/// predicts prompts never rolled out (docs/GPS.md). Per prompt: its features only.
public final class GPSModel: FeatureModel {
    public static let info = MethodInfo(
        name: "gps", checkpointID: 3,
        summary: "Bayesian logistic regression on prompt features, shared by all prompts; predicts unseen prompts",
        strategies: ["thompson", "informative", "uniform"], defaultStrategy: "thompson",
        parameters: FeatureParameters.specs + Diversity.specs + [
            .real("target", 0.5, in: 0...1, "thompson: prompts whose drawn success is nearest this are chosen"),
            .integer("rollouts", 8, in: 1...Int(CountBounds.maxRollouts),
                     "informative: the group size k whose mixed outcome is scored"),
            .flag("proportional", false, "informative: sample in proportion to the score instead of the top B"),
            .real("max_strength", 50, in: 1...1e6, "informative / allocation: cap of the moment-matched Beta's a + b"),
        ],
        state: [.init("sampled", "times the prompt was observed")],
        metrics: FeatureParameters.stepMetrics)

    public struct Entry: FeatureEntry {
        public var row: Int32
        var sampled: UInt32 = 0
        public init(row: Int32) { self.row = row }
    }

    public var table = PromptTable<Entry>()
    public var model: BayesianLogistic
    public var features: FeatureStore
    let strategy: String
    let target: Double
    let rollouts: Int
    let proportional: Bool
    let maxStrength: Double
    public var lastUpdate = FeatureStepStats()
    public var diversity: Diversity

    public init(_ p: Parameters) throws(PromptSelError) {
        model = FeatureParameters.model(p)
        features = FeatureStore(dim: model.dim, width: model.size)
        diversity = Diversity(p)
        strategy = p.choice("strategy")
        target = p.real("target")
        rollouts = p.integer("rollouts")
        proportional = p.flag("proportional")
        maxStrength = p.real("max_strength")
    }

    /// Feature rows of `ids` (validated before any call that reads them).
    func rows(_ ids: [Int64]) throws(PromptSelError) -> [Int] {
        try slots(ids).map { Int(table.entries[$0].value.row) }
    }

    public func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection {
        // Candidates were checked by `validate(candidates:)`.
        let rows = (try? self.rows(candidates)) ?? []
        let scores: [Double]
        let chosen: [Int]
        switch strategy {
        case "uniform":
            scores = rows.map { model.predict(features.phiRow($0)).mean }
            chosen = SelectionRules.uniform(n: rows.count, k: batchSize, rng: &rng)
        case "informative":
            scores = rows.map { r -> Double in
                let (m, s) = model.predict(features.phiRow(r))
                let b = Acquisition.momentMatched(mean: m, std: s, minStrength: 1e-3, maxStrength: maxStrength)
                return Acquisition.informative(b.alpha, b.beta, k: rollouts)
            }
            chosen = proportional || diversity.weight == 0
                ? Acquisition.pick(scores, batch: batchSize, proportional: proportional, rng: &rng)
                : diversity.choose(utility: scores, phis: rows.map { features.phiRow($0) }, batch: batchSize, rng: &rng)
        default:  // thompson: one posterior draw for the whole step
            let w = model.draw(&rng)
            scores = rows.map { model.probability(w, features.phiRow($0)) }
            chosen = diversity.weight == 0
                ? SelectionRules.nearest(draws: scores, k: batchSize, target: target)
                : diversity.choose(utility: scores.map { -($0 - target) * ($0 - target) },
                                   phis: rows.map { features.phiRow($0) }, batch: batchSize, rng: &rng)
        }
        return Selection(positions: chosen, scores: chosen.map { scores[$0] })
    }

    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        let slots = try self.slots(ids)
        learn(slots, rates: rates, rollouts: rollouts)
        for i in slots where table.entries[i].value.sampled < UInt32.max { table.entries[i].value.sampled += 1 }
    }

    public func predict(_ ids: [Int64]) -> [Double] {
        ids.map { id in table.index(of: id).map { model.predict(features.phiRow(Int(table.entries[$0].value.row))).mean } ?? .nan }
    }

    public func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)] {
        try rows(ids).map { r in
            let (m, s) = model.predict(features.phiRow(r))
            return Acquisition.momentMatched(mean: m, std: s, minStrength: 1e-3, maxStrength: maxStrength)
        }
    }

    public func state(_ ids: [Int64], columns: Range<Int>) -> [Double] {
        columns.isEmpty ? [] : ids.map { id in table.index(of: id).map { Double(table.entries[$0].value.sampled) } ?? 0 }
    }

    public var priorRow: [Double] { [0] }

    public func setState(ids: [Int64], rows: [Double]) throws(PromptSelError) {
        let indices = try self.rows(ids)  // only ids with features have a state
        _ = indices
        for (i, t) in rows.enumerated() where !(t >= 0 && t <= Double(UInt32.max) && t.rounded() == t) {
            throw .range("sampled of id \(ids[i]) is \(t) (need an integer 0 ... 2^32 - 1)")
        }
        for (i, slot) in table.resolve(ids, inserting: nil).enumerated() { table.entries[slot].value.sampled = UInt32(rows[i]) }
    }

    // MARK: - Checkpoint: the shared payload with each prompt's times-observed count.

    public func encode(_ w: inout ByteWriter) {
        encodeShared(&w) { w in for e in table.entries { w.u32(e.value.sampled) } }
    }

    public func decode(_ r: inout ByteReader) throws(PromptSelError) {
        var sampled: [UInt32] = []
        let ids = try decodeShared(&r, ownBytes: 4) { (n, r) throws(PromptSelError) in
            for _ in 0..<n { sampled.append(try r.u32("sampled")) }
        }
        for (j, i) in table.resolve(ids, inserting: nil).enumerated() { table.entries[i].value.sampled = sampled[j] }
    }
}
