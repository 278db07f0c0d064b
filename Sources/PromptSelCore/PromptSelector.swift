/// A prompt selector: configuration, its own random generator, and one model per
/// tracked prompt. Not thread-safe by itself; the ABI layer puts it behind a lock.
///
/// Every mutating operation validates all of its inputs before it changes anything,
/// so a call that throws leaves the selector exactly as it was.
public final class PromptSelector {
    public private(set) var config: SelectorConfig
    public internal(set) var rng: Xoshiro256StarStar
    /// Number of update calls applied so far (one per training step).
    public internal(set) var steps: UInt64 = 0

    enum Model {
        case mopps(MoPPSModel)
        case dps(DPSModel)
    }
    var model: Model

    public init(config: SelectorConfig) throws(PromptSelError) {
        try config.validate()
        self.config = config
        self.rng = Xoshiro256StarStar(seed: config.seed)
        switch config.method {
        case .mopps:
            model = .mopps(MoPPSModel(alpha0: config.priorAlpha, beta0: config.priorBeta))
        case .dps:
            model = .dps(DPSModel(config: config))
        }
    }

    /// Number of prompt ids tracked.
    public var count: Int {
        switch model {
        case .mopps(let m): m.count
        case .dps(let m): m.count
        }
    }

    /// Tracked ids in first-seen order.
    public var ids: [Int64] {
        switch model {
        case .mopps(let m): m.table.ids
        case .dps(let m): m.table.ids
        }
    }

    /// Bytes of one tracked prompt's table entry (id and model state), hash slots not
    /// included.
    public var entryBytes: Int {
        switch model {
        case .mopps: PromptTable<MoPPSModel.Posterior>.entryBytes
        case .dps: PromptTable<DPSRecord>.entryBytes
        }
    }

    /// Approximate heap bytes of the per-prompt state.
    public var allocatedBytes: Int {
        switch model {
        case .mopps(let m): m.allocatedBytes
        case .dps(let m): m.allocatedBytes
        }
    }

    // MARK: - One training step

    /// Positions into the candidate array and their acquisition scores.
    public struct Selection: Equatable, Sendable {
        public var positions: [Int]
        public var scores: [Double]
    }

    /// Throws unless 1 <= batchSize <= poolSize.
    public static func validateBatch(poolSize: Int, batchSize: Int) throws(PromptSelError) {
        guard poolSize > 0 else { throw .invalid("the candidate pool is empty") }
        guard batchSize >= 1 else { throw .invalid("batch_size must be >= 1, got \(batchSize)") }
        guard batchSize <= poolSize else {
            throw .invalid("batch_size \(batchSize) exceeds the \(poolSize) candidates")
        }
    }

    /// Chooses `batchSize` of `candidates`; unseen ids start at the prior.
    public func select(candidates: [Int64], batchSize: Int) throws(PromptSelError) -> Selection {
        try PromptSelector.validateBatch(poolSize: candidates.count, batchSize: batchSize)
        switch model {
        case .mopps(let m):
            try ensureRoom(for: candidates.count)
            let r = m.draw(candidates, &rng)
            let chosen: [Int]
            switch config.strategy {
            case .topk, .topkEntropy:
                chosen = SelectionRules.nearest(draws: r, k: batchSize, target: config.target)
            case .threshold:
                chosen = SelectionRules.threshold(draws: r, k: batchSize, lower: config.lower,
                                                  upper: config.upper, rng: &rng)
            case .uniform:
                chosen = SelectionRules.uniform(n: r.count, k: batchSize, rng: &rng)
            }
            return Selection(positions: chosen, scores: chosen.map { r[$0] })
        case .dps(let m):
            try ensureRoom(for: candidates.count)
            if candidates.count > m.count { m.table.reserve(extra: candidates.count) }
            let w = config.strategy == .topkEntropy ? config.dpsEntropyWeight : 0
            let score = m.current(m.resolve(candidates)).map { s -> Double in
                w == 0 ? s.pi[1] : s.pi[1] + w * DPSModel.entropy(s.pi)
            }
            let chosen: [Int]
            if config.strategy == .uniform {
                chosen = SelectionRules.uniform(n: score.count, k: batchSize, rng: &rng)
            } else {
                // Highest score first; exact ties in random order from the seeded
                // generator (the reference leaves them to argsort).
                let tiebreak = score.map { _ in rng.next() }
                chosen = SelectionRules.smallest(batchSize, keys: score.map { -$0 }, tiebreak: tiebreak)
            }
            return Selection(positions: chosen, scores: chosen.map { score[$0] })
        }
    }

    /// Feeds back one step of rollouts. `rollouts[i] >= 1`, `rates[i]` in [0, 1].
    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        guard rates.count == ids.count, rollouts.count == ids.count else {
            throw .invalid("ids, success_rate and rollouts must have the same length "
                + "(\(ids.count), \(rates.count), \(rollouts.count))")
        }
        for i in 0..<ids.count {
            let s = rates[i]
            guard !s.isNaN else { throw .invalid("success_rate[\(i)] is NaN (id \(ids[i]))") }
            guard s >= 0 && s <= 1 else {
                throw .range("success_rate[\(i)] = \(s) is outside [0, 1] (id \(ids[i]))")
            }
            guard rollouts[i] >= 1 && rollouts[i] <= SelectorConfig.maxRollouts else {
                throw .range("rollouts[\(i)] = \(rollouts[i]) must lie in [1, \(SelectorConfig.maxRollouts)] (id \(ids[i]))")
            }
        }
        switch model {
        case .mopps(let m):
            try ensureRoom(for: ids.count)
            steps &+= 1
            if config.noUpdate { return }
            m.update(ids: ids, rates: rates, rollouts: rollouts, decay: config.decay)
        case .dps(let m):
            try ensureRoom(for: ids.count)
            guard m.step < UInt32.max else { throw PromptSelError(.outOfRange, "more than 2^32 - 1 training steps") }
            steps &+= 1
            // Frozen as the reference: no observation and no propagation either.
            if config.noUpdate { return }
            m.update(ids: ids, rates: rates)
        }
    }

    // MARK: - Queries

    /// Expected success rate of each id under the model (the prior for unseen ids).
    public func predict(_ ids: [Int64]) -> [Double] {
        switch model {
        case .mopps(let m):
            return m.posterior(ids).map { $0.alpha / ($0.alpha + $0.beta) }
        case .dps(let m):
            // Expected success rate with state values 0, 1/2, 1: the partial state's
            // rates are spread over (0, 1) and their mean is 1/2 for a symmetric spread.
            return m.current(ids).map { 0.5 * $0.pi[1] + $0.pi[2] }
        }
    }

    /// MoPPS posterior parameters of each id.
    public func posterior(_ ids: [Int64]) throws(PromptSelError) -> (alpha: [Double], beta: [Double]) {
        let p = try moppsModel("posterior").posterior(ids)
        return (p.map(\.alpha), p.map(\.beta))
    }

    // MARK: - Importing state

    /// MoPPS warm start: alpha = alpha0 + w*successes, beta = beta0 + w*failures.
    public func warmStart(ids: [Int64], successes: [Double], trials: [Double], weight: Double) throws(PromptSelError) {
        let m = try moppsModel("warm_start")
        guard successes.count == ids.count, trials.count == ids.count else {
            throw .invalid("ids, successes and trials must have the same length")
        }
        guard weight.isFinite else { throw .invalid("weight must be finite, got \(weight)") }
        guard weight >= 0 else { throw .range("weight must be >= 0, got \(weight)") }
        for i in 0..<ids.count {
            guard successes[i].isFinite, trials[i].isFinite else {
                throw .invalid("successes[\(i)] and trials[\(i)] must be finite (id \(ids[i]))")
            }
            guard successes[i] >= 0, successes[i] <= trials[i] else {
                throw .range("need 0 <= successes <= trials, got \(successes[i]) of \(trials[i]) (id \(ids[i]))")
            }
            guard weight * trials[i] <= SelectorConfig.maxCount else {
                throw .range("weight * trials = \(weight * trials[i]) exceeds \(SelectorConfig.maxCount) (id \(ids[i]))")
            }
        }
        try ensureRoom(for: ids.count)
        let a = (0..<ids.count).map { m.prior.alpha + weight * successes[$0] }
        let b = (0..<ids.count).map { m.prior.beta + weight * (trials[$0] - successes[$0]) }
        m.set(ids: ids, alpha: a, beta: b)
    }

    /// MoPPS: sets alpha and beta of each id (imports a reference checkpoint).
    public func setPosterior(ids: [Int64], alpha: [Double], beta: [Double]) throws(PromptSelError) {
        let m = try moppsModel("set_posterior")
        guard alpha.count == ids.count, beta.count == ids.count else {
            throw .invalid("ids, alpha and beta must have the same length")
        }
        for i in 0..<ids.count {
            guard alpha[i].isFinite, beta[i].isFinite else {
                throw .invalid("alpha[\(i)] and beta[\(i)] must be finite (id \(ids[i]))")
            }
            guard SelectorConfig.countRange.contains(alpha[i]), SelectorConfig.countRange.contains(beta[i]) else {
                throw .range("alpha and beta must lie in [\(SelectorConfig.minCount), \(SelectorConfig.maxCount)], "
                    + "got (\(alpha[i]), \(beta[i])) (id \(ids[i]))")
            }
        }
        try ensureRoom(for: ids.count)
        m.set(ids: ids, alpha: alpha, beta: beta)
    }

    private func moppsModel(_ op: String) throws(PromptSelError) -> MoPPSModel {
        switch model {
        case .mopps(let m): return m
        case .dps: throw PromptSelError(.unsupported, "\(op) is a MoPPS operation; this selector runs DPS")
        }
    }

    func dpsModel(_ op: String) throws(PromptSelError) -> DPSModel {
        switch model {
        case .dps(let m): return m
        case .mopps: throw PromptSelError(.unsupported, "\(op) is a DPS operation; this selector runs MoPPS")
        }
    }

    /// Throws unless `extra` more prompts fit in the table (dense indices are Int32).
    func ensureRoom(for extra: Int) throws(PromptSelError) {
        guard count + extra <= maxPrompts else {
            throw PromptSelError(.noMemory, "more than \(maxPrompts) prompts")
        }
    }
}
