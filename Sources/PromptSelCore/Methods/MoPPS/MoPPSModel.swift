/// MoPPS (Qu et al., arXiv 2507.04632): a Beta(alpha, beta) posterior over each
/// prompt's success rate, discounted towards the prior at update time, and
/// Thompson sampling to choose prompts.
///
/// Per prompt: one 24-byte table entry (id, alpha, beta) plus its hash slot.
public final class MoPPSModel: SelectionModel {
    public static let info = MethodInfo(
        name: "mopps", checkpointID: 1,
        summary: "Beta posterior per prompt with discounted updates; Thompson sampling (arXiv 2507.04632)",
        strategies: ["topk", "threshold", "uniform", "informative"], defaultStrategy: "topk",
        parameters: [
            .real("target", 0.5, in: 0...1, "topk: the draws nearest this success rate are chosen"),
            .real("lower", 0.3, in: 0...1, "threshold: lower end of the band of draws chosen uniformly"),
            .real("upper", 0.7, in: 0...1, "threshold: upper end of the band"),
            .real("decay", 1.0, in: 0...1, minOpen: true, "lambda: posterior discount towards the prior per update (1: none)"),
            .real("prior_alpha", 1.0, in: CountBounds.range, "Beta prior alpha0"),
            .real("prior_beta", 1.0, in: CountBounds.range, "Beta prior beta0"),
            .integer("rollouts", 8, in: 1...Int(CountBounds.maxRollouts),
                     "informative: the group size k whose mixed outcome is scored"),
            .flag("proportional", false, "informative: sample in proportion to the score instead of the top B"),
        ],
        state: [.init("alpha", "Beta posterior alpha (pseudo-successes)"),
                .init("beta", "Beta posterior beta (pseudo-failures)")],
        hasWarmStart: true)

    struct Posterior {
        var alpha: Double
        var beta: Double
    }

    enum Strategy { case topk, threshold, uniform, informative }

    var table = PromptTable<Posterior>()
    let prior: Posterior
    let strategy: Strategy
    let target, lower, upper, decay: Double
    let rollouts: Int
    let proportional: Bool

    public init(_ p: Parameters) throws(PromptSelError) {
        prior = Posterior(alpha: p.real("prior_alpha"), beta: p.real("prior_beta"))
        strategy = switch p.choice("strategy") {
        case "threshold": .threshold
        case "uniform": .uniform
        case "informative": .informative
        default: .topk
        }
        rollouts = p.integer("rollouts")
        proportional = p.flag("proportional")
        (target, lower, upper, decay) = (p.real("target"), p.real("lower"), p.real("upper"), p.real("decay"))
        guard lower <= upper else { throw .range("lower (\(lower)) must not exceed upper (\(upper))") }
    }

    public var count: Int { table.count }
    public var ids: [Int64] { table.ids }
    public var allocatedBytes: Int { table.allocatedBytes }
    public var entryBytes: Int { PromptTable<Posterior>.entryBytes }

    public func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection {
        if strategy == .informative {
            if candidates.count > count { table.reserve(extra: candidates.count) }
            let indices = table.resolve(candidates, inserting: prior)
            let scores = indices.map { i in
                Acquisition.informative(table.entries[i].value.alpha, table.entries[i].value.beta, k: rollouts)
            }
            let chosen = Acquisition.pick(scores, batch: batchSize, proportional: proportional, rng: &rng)
            return Selection(positions: chosen, scores: chosen.map { scores[$0] })
        }
        let r = draw(candidates, &rng)
        let chosen = switch strategy {
        case .topk: SelectionRules.nearest(draws: r, k: batchSize, target: target)
        case .threshold: SelectionRules.threshold(draws: r, k: batchSize, lower: lower, upper: upper, rng: &rng)
        case .uniform, .informative: SelectionRules.uniform(n: r.count, k: batchSize, rng: &rng)
        }
        return Selection(positions: chosen, scores: chosen.map { r[$0] })
    }

    /// One Thompson draw r ~ Beta(alpha, beta) per candidate, creating unseen ids.
    func draw(_ candidates: [Int64], _ rng: inout Xoshiro256StarStar) -> [Double] {
        // A pool larger than everything known is a bulk load: grow once.
        if candidates.count > count { table.reserve(extra: candidates.count) }
        let indices = table.resolve(candidates, inserting: prior)
        // Gather first: these loads do not wait on each other (or on the serial
        // generator), so their cache misses overlap; then draw from the copy.
        let shapes = table.entries.withUnsafeBufferPointer { e in indices.map { e[$0].value } }
        return shapes.map { BetaSampler.beta($0.alpha, $0.beta, &rng) }
    }

    /// alpha <- l*alpha + (1-l)*alpha0 + s*k, beta <- l*beta + (1-l)*beta0 + (1-s)*k.
    /// Duplicates apply in order.
    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        let indices = table.resolve(ids, inserting: prior)
        let (a0, b0) = (prior.alpha * (1 - decay), prior.beta * (1 - decay))
        table.entries.withUnsafeMutableBufferPointer { e in
            for (j, i) in indices.enumerated() {
                let k = Double(rollouts[j])
                // Kept inside the counts' range: rounding can take a prior of 1e-12
                // just below it, and a prior of 1e15 plus evidence above it; every
                // state an update reaches is one a checkpoint may hold.
                e[i].value.alpha = min(max(decay * e[i].value.alpha + a0 + rates[j] * k, CountBounds.min), CountBounds.max)
                e[i].value.beta = min(max(decay * e[i].value.beta + b0 + (1 - rates[j]) * k, CountBounds.min), CountBounds.max)
            }
        }
    }

    /// Posterior of each id, or the prior for ids never seen.
    func posterior(_ ids: [Int64]) -> [Posterior] {
        table.resolve(ids, inserting: nil).map { $0 < 0 ? prior : table.entries[$0].value }
    }

    public func predict(_ ids: [Int64]) -> [Double] {
        posterior(ids).map { $0.alpha / ($0.alpha + $0.beta) }
    }

    public func state(_ ids: [Int64], columns: Range<Int>) -> [Double] {
        let p = posterior(ids)
        let w = columns.count
        return [Double](unsafeUninitializedCapacity: w * p.count) { out, initialized in
            for (i, q) in p.enumerated() {
                for (j, c) in columns.enumerated() { out[w * i + j] = c == 0 ? q.alpha : q.beta }
            }
            initialized = w * p.count
        }
    }

    public var priorRow: [Double] { [prior.alpha, prior.beta] }

    public func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)] {
        posterior(ids).map { ($0.alpha, $0.beta) }
    }

    public func setState(ids: [Int64], rows: [Double]) throws(PromptSelError) {
        for i in 0..<ids.count {
            try MoPPSModel.checkPosterior(rows[2 * i], rows[2 * i + 1], id: ids[i])
        }
        set(ids: ids, values: (0..<ids.count).map { Posterior(alpha: rows[2 * $0], beta: rows[2 * $0 + 1]) })
    }

    static func checkPosterior(_ a: Double, _ b: Double, id: Int64) throws(PromptSelError) {
        guard a.isFinite, b.isFinite else { throw .invalid("alpha and beta must be finite, got (\(a), \(b)) (id \(id))") }
        guard CountBounds.range.contains(a), CountBounds.range.contains(b) else {
            throw .range("alpha and beta must lie in [\(CountBounds.min), \(CountBounds.max)], got (\(a), \(b)) (id \(id))")
        }
    }

    /// alpha = alpha0 + w*successes, beta = beta0 + w*failures.
    public func warmStart(ids: [Int64], successes: [Double], trials: [Double], weight: Double) throws(PromptSelError) {
        guard weight.isFinite else { throw .invalid("weight must be finite, got \(weight)") }
        guard weight >= 0 else { throw .range("weight must be >= 0, got \(weight)") }
        for i in 0..<ids.count {
            guard successes[i].isFinite, trials[i].isFinite else {
                throw .invalid("successes[\(i)] and trials[\(i)] must be finite (id \(ids[i]))")
            }
            guard successes[i] >= 0, successes[i] <= trials[i] else {
                throw .range("need 0 <= successes <= trials, got \(successes[i]) of \(trials[i]) (id \(ids[i]))")
            }
            let (a, b) = (prior.alpha + weight * successes[i], prior.beta + weight * (trials[i] - successes[i]))
            guard a <= CountBounds.max, b <= CountBounds.max else {
                throw .range("the warm-started posterior (\(a), \(b)) exceeds \(CountBounds.max) (id \(ids[i]))")
            }
        }
        set(ids: ids, values: (0..<ids.count).map {
            Posterior(alpha: prior.alpha + weight * successes[$0], beta: prior.beta + weight * (trials[$0] - successes[$0]))
        })
    }

    /// Sets (or adds) the posterior of each id; values already validated.
    func set(ids: [Int64], values: [Posterior]) {
        table.reserve(extra: ids.count)
        for (j, i) in table.resolve(ids, inserting: prior).enumerated() {
            table.entries[i].value = values[j]
        }
    }

    // MARK: - Checkpoint payload: n, ids, alphas, betas

    public func encode(_ w: inout ByteWriter) {
        w.u64(UInt64(count))
        w.i64s(table.ids)
        for e in table.entries { w.f64(e.value.alpha) }
        for e in table.entries { w.f64(e.value.beta) }
    }

    /// Straight into the table, no intermediate arrays; every posterior passes the
    /// checks of `setState`.
    public func decode(_ r: inout ByteReader) throws(PromptSelError) {
        let n = try r.count(bytesPerPrompt: 24)
        var loaded = PromptTable<Posterior>()
        loaded.reserveCapacity(n)
        for _ in 0..<n {
            guard loaded.insert(try r.i64("ids"), prior).inserted else { throw .corrupt("checkpoint lists an id twice") }
        }
        for i in 0..<n { loaded.entries[i].value.alpha = try r.f64("alpha") }
        for i in 0..<n { loaded.entries[i].value.beta = try r.f64("beta") }
        for e in loaded.entries {
            do { try MoPPSModel.checkPosterior(e.value.alpha, e.value.beta, id: e.id) } catch {
                throw .corrupt("checkpoint holds an invalid posterior: \(error.message)")
            }
        }
        table = loaded
    }
}
