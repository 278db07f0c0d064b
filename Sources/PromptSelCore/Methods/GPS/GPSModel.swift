/// GPS-style selection (arXiv 2602.01970): one small Bayesian model of success as a
/// function of prompt features, trained on the shared history of every prompt, so it
/// predicts prompts never rolled out (docs/GPS.md). Per prompt: its features only.
public final class GPSModel: SelectionModel {
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

    struct Entry {
        var row: Int32
        var sampled: UInt32
    }

    var table = PromptTable<Entry>()
    var model: BayesianLogistic
    var features: FeatureStore
    let strategy: String
    let target: Double
    let rollouts: Int
    let proportional: Bool
    let maxStrength: Double
    var lastUpdate = FeatureStepStats()
    var diversity: Diversity

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

    public var count: Int { table.count }
    public var ids: [Int64] { table.ids }
    public var allocatedBytes: Int { table.allocatedBytes + features.allocatedBytes }
    public var entryBytes: Int { PromptTable<Entry>.entryBytes + 4 * (features.dim + features.width) }
    public var featureDim: Int { features.dim }

    /// Feature rows of `ids`, or the error naming the first id without features.
    func rows(_ ids: [Int64]) throws(PromptSelError) -> [Int] {
        let indices = table.resolve(ids, inserting: nil)
        if let j = indices.firstIndex(of: -1) {
            throw .invalid("prompt \(ids[j]) has no features: register them with set_features first")
        }
        return indices.map { Int(table.entries[$0].value.row) }
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

    public func validate(ids: [Int64]) throws(PromptSelError) { _ = try rows(ids) }

    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        let rows = try self.rows(ids)
        lastUpdate = FeatureStepStats(model: model, features: features, rows: rows, rates: rates)
        var phis: [Float] = []
        phis.reserveCapacity(rows.count * features.width)
        for r in rows { phis.append(contentsOf: features.phiRow(r)) }
        model.update(phis: phis, successes: zip(rates, rollouts).map { $0 * Double($1) },
                     trials: rollouts.map { Double($0) })
        diversity.record(rows.map { features.phiRow($0) })
        for i in table.resolve(ids, inserting: nil) where table.entries[i].value.sampled < UInt32.max {
            table.entries[i].value.sampled += 1
        }
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

    public func setFeatures(ids: [Int64], rows: [Float]) throws(PromptSelError) {
        try FeatureStore.check(rows, count: ids.count, dim: features.dim)
        let dim = features.dim
        table.reserve(extra: ids.count)
        for (j, id) in ids.enumerated() {
            let x = rows[(j * dim)..<((j + 1) * dim)]
            let phi = model.project(x)
            if let i = table.index(of: id) {
                _ = features.put(x, phi, at: Int(table.entries[i].value.row))
            } else {
                let row = features.put(x, phi)
                _ = table.insert(id, Entry(row: Int32(row), sampled: 0))
            }
        }
    }

    public func metrics(_ scope: MetricScope) -> [Double] { scope == .step ? lastUpdate.values : [] }

    // MARK: - Checkpoint: the model, then n, ids, sampled, feature rows.

    public func encode(_ w: inout ByteWriter) {
        FeatureParameters.encode(model, &w)
        lastUpdate.encode(&w)
        diversity.encode(&w)
        w.u64(UInt64(count))
        for e in table.entries { w.i64(e.id) }
        for e in table.entries { w.u32(e.value.sampled) }
        // Rows in table order, so a load needs no row map.
        for e in table.entries { for v in features.rawRow(Int(e.value.row)) { w.u32(v.bitPattern) } }
    }

    public func decode(_ r: inout ByteReader) throws(PromptSelError) {
        try FeatureParameters.decode(&model, &r)
        lastUpdate = try FeatureStepStats.decode(&r)
        try diversity.decode(&r, width: model.rank)
        let n = try r.count(bytesPerPrompt: 12 + 4 * features.dim)
        var ids: [Int64] = []
        ids.reserveCapacity(n)
        for _ in 0..<n { ids.append(try r.i64("ids")) }
        var sampled: [UInt32] = []
        for _ in 0..<n { sampled.append(try r.u32("sampled")) }
        var raw = [Float](repeating: 0, count: n * features.dim)
        for k in 0..<raw.count { raw[k] = Float(bitPattern: try r.u32("features")) }
        do { try FeatureStore.check(raw, count: n, dim: features.dim) } catch {
            throw .corrupt("checkpoint holds invalid features: \(error.message)")
        }
        guard Set(ids).count == n else { throw .corrupt("checkpoint lists an id twice") }
        try setFeatures(ids: ids, rows: raw)
        for (j, i) in table.resolve(ids, inserting: nil).enumerated() { table.entries[i].value.sampled = sampled[j] }
    }
}
