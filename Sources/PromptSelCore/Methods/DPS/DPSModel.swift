#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// DPS (Mao et al., arXiv 2603.10887): a hidden Markov model of each prompt's
/// solving state with Dirichlet transition counts, propagated one step per training
/// step. Selection prefers prompts most likely to be partially solved next.
///
/// The reference walks every known prompt on every step. Here an unobserved prompt
/// is brought forward only when read, so a step costs O(candidates + observed)
/// whatever the number of prompts known. Bringing forward has two phases:
///
/// 1. While its counts still decay towards the prior (λ_T < 1, the first
///    `settleSteps` unobserved steps after an observation) the prompt is stepped
///    exactly as the eager rule does, and the progress is stored: the state after
///    e exact steps, `e` fewer steps left to take exactly. Storing it does not change
///    any later value, because the remaining arithmetic is the same either way.
/// 2. Once settled (or always with λ_T = 1) the transition matrix P is constant and
///    the belief after r more steps is P^(r-1) then one exact step, by squaring. This
///    phase is never stored: results depend only on the stored state and r.
///
/// So every read is a function of the last observation and the step count alone,
/// equal to the eager rule's values up to rounding (tested to 1e-12), and the cost
/// of a read is O(log gap) plus at most `settleSteps` exact steps per observation.
public final class DPSModel: SelectionModel {
    var table = PromptTable<DPSRecord>()
    /// Training steps applied (update calls, not counting frozen ones).
    var step: UInt32 = 0

    let alpha0: TransitionCounts
    let pi0: SIMD3<Double>
    let decay: Double
    /// Unobserved steps after which decayed counts equal the prior to double precision.
    let settleSteps: Int

    /// Statistics of the last update call, for the trainer's logs.
    var lastUpdate = DPSUpdateStats()

    /// Selection: rank by P(partial) (+ entropy bonus), or uniform.
    let uniform: Bool
    let entropyWeight: Double

    public init(_ p: Parameters) throws(PromptSelError) {
        alpha0 = TransitionCounts.prior(DPSPriorShape(rawValue: p.choice("prior_shape")) ?? .constant, constant: p.real("prior_alpha"))
        switch p.choice("prior_pi") {
        case "unsolved": pi0 = SIMD3(1, 0, 0)
        case "partial": pi0 = SIMD3(0, 1, 0)
        case "solved": pi0 = SIMD3(0, 0, 1)
        default: pi0 = SIMD3(repeating: 1.0 / 3.0)
        }
        uniform = p.choice("strategy") == "uniform"
        entropyWeight = p.choice("strategy") == "topk+entropy" ? p.real("entropy_weight") : 0
        decay = p.real("transition_decay")
        // Between 0.999 and 1 the counts take millions of unobserved steps to settle,
        // and a read after a long gap would step through all of them (a checkpoint could
        // make one read cost billions): refused, as DPS's configs use 0.7 or 1.
        guard decay <= DPSModel.maxDecayBelowOne || decay == 1 else {
            throw .range("transition_decay must be at most \(DPSModel.maxDecayBelowOne) or exactly 1, got \(decay)")
        }
        // Counts drift from the prior by at most 1/(1-λ) + max α0 (each step adds a
        // unit of soft counts); after t steps the drift is λ^t times that. Settled
        // means below 2^-60 of the smallest column sum.
        if decay < 1 {
            let a = alpha0.v
            let colMin = min(a[0] + a[3] + a[6], a[1] + a[4] + a[7], a[2] + a[5] + a[8])
            let drift = 1 / (1 - decay) + (0..<9).map { a[$0] }.max()!
            // Steps are UInt32: a bound beyond that is never reached.
            let t = (log(0x1p-60 * colMin / drift) / log(decay)).rounded(.up)
            settleSteps = Int(min(max(t, 1), Double(UInt32.max)))
        } else {
            settleSteps = 0
        }
    }

    /// The largest transition_decay below 1: at most ~42,000 exact catch-up steps.
    static let maxDecayBelowOne = 0.999

    public var count: Int { table.count }

    var prior: DPSPromptState { DPSPromptState(alpha: alpha0, pi: pi0, piBefore: pi0) }

    /// Dense indices of `ids`, creating unseen ones at the prior. Counts at the prior
    /// are settled already (no exact steps owed).
    func resolve(_ ids: [Int64]) -> [Int] {
        table.resolve(ids, inserting: DPSRecord(prior, sampled: 0, lastStep: step, exactLeft: 0))
    }

    /// Brings a record to the current step and returns its state. Exact-phase
    /// progress is stored in the record; the settled phase never is (see above).
    @inline(__always)
    func advance(_ r: inout DPSRecord) -> DPSPromptState {
        var s = r.state
        let m = Int(step &- r.lastStep)
        guard m > 0 else { return s }
        let exact = min(m, Int(r.exactLeft))
        if exact > 0 {
            for _ in 0..<exact { s = unobservedStep(s) }
            r.exactLeft -= UInt32(exact)
            // λ^t·|α - α0| is now below double precision: snap to the prior.
            if r.exactLeft == 0 { s.alpha = alpha0 }
            r.state = s
            r.lastStep &+= UInt32(exact)
        }
        return advanceSettled(s, by: m - exact)
    }

    /// States of `ids` at the current step; the prior for unseen ids.
    func current(_ ids: [Int64]) -> [DPSPromptState] {
        current(table.resolve(ids, inserting: nil))
    }

    /// States of dense indices (-1: the prior) at the current step. Three passes: gather
    /// the records (independent loads, so the misses of a large table overlap),
    /// advance the copies, write back the few whose exact-phase progress moved.
    func current(_ indices: [Int]) -> [DPSPromptState] {
        current(indices[...])
    }

    /// Block size of the large reads: the gathered copies and states of one block
    /// (about 330 B per candidate) stay small whatever the pool, so a first select of
    /// ten million new ids needs no multi-GB temporary.
    static let block = 1 << 14

    /// `body(j, state)` for every position j of `indices`, in blocks of `block`.
    func forEachCurrent(_ indices: [Int], _ body: (Int, DPSPromptState) -> Void) {
        var start = 0
        while start < indices.count {
            let end = min(start + DPSModel.block, indices.count)
            for (k, s) in current(indices[start..<end]).enumerated() { body(start + k, s) }
            start = end
        }
    }

    func current(_ indices: ArraySlice<Int>) -> [DPSPromptState] {
        let fresh = DPSRecord(prior, sampled: 0, lastStep: step, exactLeft: 0)
        var copies = table.entries.withUnsafeBufferPointer { e in indices.map { $0 < 0 ? fresh : e[$0].value } }
        let states = copies.indices.map { advance(&copies[$0]) }
        table.entries.withUnsafeMutableBufferPointer { e in
            for (j, i) in indices.enumerated() where i >= 0 && copies[j].lastStep != e[i].value.lastStep {
                e[i].value = copies[j]
            }
        }
        return states
    }

    /// One unobserved step, exactly as the reference: decay the counts towards the
    /// prior, then predict with the decayed counts.
    @inline(__always)
    func unobservedStep(_ s: DPSPromptState) -> DPSPromptState {
        let a = TransitionCounts(lanes: s.alpha.v * decay + alpha0.v * (1 - decay))
        return DPSPromptState(alpha: a, pi: normalized(normalized(a.expected.times(s.pi))), piBefore: s.pi)
    }

    static let identity = TransitionCounts([[1, 0, 0], [0, 1, 0], [0, 0, 1]])

    /// `m` unobserved steps of a prompt whose counts no longer move (phase 2): P is
    /// constant, so a few steps are matrix-vector products and longer gaps P^(m-1)
    /// by squaring, then one step.
    func advanceSettled(_ start: DPSPromptState, by m: Int) -> DPSPromptState {
        var s = start
        guard m > 0 else { return s }
        let p = s.alpha.expected
        if m <= 6 {
            for _ in 0..<m {
                s.piBefore = s.pi
                s.pi = normalized(normalized(p.times(s.pi)))
            }
            return s
        }
        var power = p
        var q = DPSModel.identity
        var e = m - 1
        while e > 0 {
            if e & 1 == 1 { q = q.times(power) }
            e >>= 1
            guard e > 0 else { break }
            power = power.times(power)
            // P^(2^j) has reached its rank-one limit (every column the stationary
            // belief, to 1e-16): every higher power, and q times it, is that limit.
            if power.columnsAgree {
                q = power
                break
            }
        }
        let before = normalized(q.times(s.pi))
        s.piBefore = before
        s.pi = normalized(normalized(p.times(before)))
        return s
    }

    /// Expected two-slice counts xi ∝ outer(piNew, piPrev) ⊙ P. When the observed
    /// transition has probability 0 under P (the reference's `local` prior meeting
    /// a jump between unsolved and solved) the reference divides 0 by 0 and its
    /// beliefs stay NaN forever; here the observation is counted as it happened,
    /// xi ∝ outer(piNew, piPrev).
    func softCounts(_ p: TransitionCounts, piNew: SIMD3<Double>, piPrev: SIMD3<Double>) -> SIMD16<Double> {
        var xi = SIMD16<Double>.zero
        var total = 0.0
        for i in 0..<3 { for j in 0..<3 { xi[3 * i + j] = piNew[i] * piPrev[j] * p[i, j]; total += xi[3 * i + j] } }
        if total > 0 && total.isFinite { return xi / total }
        total = 0
        for i in 0..<3 { for j in 0..<3 { xi[3 * i + j] = piNew[i] * piPrev[j]; total += xi[3 * i + j] } }
        return xi / total
    }

    /// The observed step of one prompt.
    func observedStep(_ s: DPSPromptState, _ state: SolvingState) -> DPSPromptState {
        var onehot = SIMD3<Double>.zero
        onehot[state.rawValue] = 1
        let xi = softCounts(s.alpha.expected, piNew: onehot, piPrev: s.piBefore)
        // Saturated at the count ceiling (a prior of 1e15 plus one observation would
        // pass it): every state an update reaches is one a checkpoint may hold.
        let raw = s.alpha.v * decay + alpha0.v * (1 - decay) + xi
        let a = TransitionCounts(lanes: raw.replacing(with: CountBounds.max, where: raw .> CountBounds.max))
        return DPSPromptState(alpha: a, pi: normalized(normalized(a.expected.times(onehot))), piBefore: onehot)
    }

    /// One training step: observations in order (duplicates apply in turn), every
    /// other prompt implicitly propagated. Inputs are already validated.
    func observe(ids: [Int64], rates: [Double]) {
        var stats = DPSUpdateStats()
        let next = step &+ 1
        let indices = resolve(ids)
        table.entries.withUnsafeMutableBufferPointer { e in
            for (j, i) in indices.enumerated() {
                let observed = SolvingState(successRate: rates[j])
                // Observed earlier in this same call: its record is already at `next`.
                let s = e[i].value.lastStep == next ? e[i].value.state : advance(&e[i].value)
                stats.record(predicted: s.pi, observed: observed)
                e[i].value.state = observedStep(s, observed)
                e[i].value.lastStep = next
                e[i].value.exactLeft = UInt32(settleSteps)
                // Saturates instead of wrapping at 2^32 - 1 (the checkpoint's range).
                if e[i].value.sampled < UInt32.max { e[i].value.sampled += 1 }
            }
        }
        step = next
        lastUpdate = stats
    }

    /// Replaces the state of each id (imports a reference `hmm_params.json`).
    func set(ids: [Int64], states: [DPSPromptState], sampled: [UInt32]) {
        table.reserve(extra: ids.count)
        for (j, i) in resolve(ids).enumerated() {
            table.entries[i].value = DPSRecord(states[j], sampled: sampled[j], lastStep: step, exactLeft: UInt32(settleSteps))
        }
    }

    /// Over every prompt (O(#prompts): brings each one forward): mean entropy of the
    /// beliefs, times-selected statistics, and the spread of the transition counts and
    /// beliefs across prompts that the authors' trainer logs (`compute_statistics`).
    func summary() -> DPSSummary {
        var out = DPSSummary()
        out.prompts = UInt64(count)
        guard count > 0 else { return out }
        var entropy = 0.0, partial = 0.0, mean = 0.0, m2 = 0.0
        var beliefMax = 0.0, beliefMin = 0.0
        // Welford per entry (lanes 0..<9 of the counts, 0..<3 of the belief): stable
        // variances in one pass, whatever the counts' magnitude.
        var alphaMean = SIMD16<Double>.zero, alphaM2 = SIMD16<Double>.zero
        var piMean = SIMD3<Double>.zero, piM2 = SIMD3<Double>.zero
        var lo = UInt32.max, hi: UInt32 = 0
        for i in 0..<count {
            let s = advance(&table.entries[i].value)
            let p = s.pi
            let w = 1 / Double(i + 1)
            entropy += DPSModel.entropy(p)
            partial += p[1]
            beliefMax += p.max()
            beliefMin += p.min()
            let da = s.alpha.v - alphaMean
            alphaMean += da * w
            alphaM2 += da * (s.alpha.v - alphaMean)
            let dp = p - piMean
            piMean += dp * w
            piM2 += dp * (p - piMean)
            let t = table.entries[i].value.sampled
            lo = min(lo, t); hi = max(hi, t)
            // Welford: a stable standard deviation in one pass.
            let x = Double(t), d = x - mean
            mean += d * w
            m2 += d * (x - mean)
        }
        let n = Double(count)
        out.meanEntropy = entropy / n
        out.meanPartial = partial / n
        out.sampledMin = UInt64(lo)
        out.sampledMax = UInt64(hi)
        out.sampledMean = mean
        out.sampledStd = (m2 / n).squareRoot()
        out.alphaVariance = (0..<9).reduce(0.0) { $0 + alphaM2[$1] } / (9 * n)
        out.beliefVariance = piM2.sum() / (3 * n)
        out.beliefMaxMean = beliefMax / n
        out.beliefMinMean = beliefMin / n
        return out
    }

    /// Entropy as the reference computes it, -Σ p log(p + 1e-10), so that
    /// `topk+entropy` ranks exactly as the authors' sampler.
    @inline(__always)
    static func entropy(_ p: SIMD3<Double>) -> Double {
        -(p[0] * log(p[0] + 1e-10) + p[1] * log(p[1] + 1e-10) + p[2] * log(p[2] + 1e-10))
    }

    public var allocatedBytes: Int { table.allocatedBytes }
}

