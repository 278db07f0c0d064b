#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Solving states of a prompt, observed from its success rate over k rollouts.
public enum SolvingState: Int, Sendable, CaseIterable {
    case unsolved = 0  // s = 0
    case partial = 1  // 0 < s < 1
    case solved = 2  // s = 1

    public init(successRate s: Double) {
        self = s == 0 ? .unsolved : (s == 1 ? .solved : .partial)
    }
}

/// 3×3 Dirichlet transition counts, row-major as the reference's `alpha[to][from]`:
/// `v[3 * to + from]`. Column j holds the counts of leaving state j.
public struct TransitionCounts: Equatable, Sendable {
    public var v: SIMD16<Double>  // lanes 0..<9 used

    public init(_ rows: [[Double]]) {
        v = .zero
        for i in 0..<3 { for j in 0..<3 { v[3 * i + j] = rows[i][j] } }
    }

    public init(lanes: SIMD16<Double>) { v = lanes }

    public subscript(to: Int, from: Int) -> Double { v[3 * to + from] }

    /// The prior counts of a named shape (rows are "to" states, as in the reference).
    public static func prior(_ shape: DPSPriorShape, constant c: Double) -> TransitionCounts {
        switch shape {
        case .constant: TransitionCounts([[c, c, c], [c, c, c], [c, c, c]])
        case .progress: TransitionCounts([[1, 0.5, 0.5], [1, 1, 0.5], [1, 1, 1]])
        case .stability: TransitionCounts([[1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]])
        case .local: TransitionCounts([[1, 1, 0], [1, 1, 1], [0, 1, 1]])
        }
    }

    /// Expected transition matrix P = alpha / column sums: P[to][from].
    @inline(__always)
    var expected: TransitionCounts {
        let c0 = v[0] + v[3] + v[6], c1 = v[1] + v[4] + v[7], c2 = v[2] + v[5] + v[8]
        var p = v
        p[0] /= c0; p[3] /= c0; p[6] /= c0
        p[1] /= c1; p[4] /= c1; p[7] /= c1
        p[2] /= c2; p[5] /= c2; p[8] /= c2
        return TransitionCounts(lanes: p)
    }

    /// All three columns equal to within 1e-16: a converged power of a stochastic matrix.
    var columnsAgree: Bool {
        let tol = 1e-16
        for i in 0..<3 {
            let a = v[3 * i], b = v[3 * i + 1], c = v[3 * i + 2]
            if abs(a - b) > tol || abs(a - c) > tol { return false }
        }
        return true
    }

    @inline(__always)
    func times(_ x: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3(v[0] * x[0] + v[1] * x[1] + v[2] * x[2],
              v[3] * x[0] + v[4] * x[1] + v[5] * x[2],
              v[6] * x[0] + v[7] * x[1] + v[8] * x[2])
    }

    @inline(__always)
    func times(_ b: TransitionCounts) -> TransitionCounts {
        var r = SIMD16<Double>.zero
        for i in 0..<3 {
            for j in 0..<3 {
                r[3 * i + j] = v[3 * i] * b.v[j] + v[3 * i + 1] * b.v[3 + j] + v[3 * i + 2] * b.v[6 + j]
            }
        }
        return TransitionCounts(lanes: r)
    }
}

@inline(__always)
func normalized(_ x: SIMD3<Double>) -> SIMD3<Double> {
    x / (x[0] + x[1] + x[2])
}

/// One prompt's DPS state at some step.
public struct DPSPromptState: Equatable, Sendable {
    public var alpha: TransitionCounts
    /// Predicted belief over the next observation: the selection signal.
    public var pi: SIMD3<Double>
    /// The belief one step earlier: the "from" distribution of transition learning.
    public var piBefore: SIMD3<Double>

    public init(alpha: TransitionCounts, pi: SIMD3<Double>, piBefore: SIMD3<Double>) {
        self.alpha = alpha
        self.pi = pi
        self.piBefore = piBefore
    }
}

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
/// One prompt's stored DPS state, packed (132 bytes, no SIMD padding) so that reading
/// a candidate touches two or three adjacent cache lines.
struct DPSRecord {
    var a0, a1, a2, a3, a4, a5, a6, a7, a8: Double  // counts [to][from], row-major
    var p0, p1, p2: Double  // pi
    var b0, b1, b2: Double  // pi_before
    var sampled: UInt32
    /// Training step at which the stored state is valid.
    var lastStep: UInt32
    /// Unobserved steps still to be taken exactly before the counts count as settled.
    var exactLeft: UInt32

    init(_ s: DPSPromptState, sampled: UInt32, lastStep: UInt32, exactLeft: UInt32) {
        let v = s.alpha.v
        (a0, a1, a2, a3, a4, a5, a6, a7, a8) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])
        (p0, p1, p2) = (s.pi[0], s.pi[1], s.pi[2])
        (b0, b1, b2) = (s.piBefore[0], s.piBefore[1], s.piBefore[2])
        self.sampled = sampled
        self.lastStep = lastStep
        self.exactLeft = exactLeft
    }

    var state: DPSPromptState {
        get {
            var v = SIMD16<Double>.zero
            (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]) = (a0, a1, a2, a3, a4, a5, a6, a7, a8)
            return DPSPromptState(alpha: TransitionCounts(lanes: v), pi: SIMD3(p0, p1, p2), piBefore: SIMD3(b0, b1, b2))
        }
        set {
            let v = newValue.alpha.v
            (a0, a1, a2, a3, a4, a5, a6, a7, a8) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])
            (p0, p1, p2) = (newValue.pi[0], newValue.pi[1], newValue.pi[2])
            (b0, b1, b2) = (newValue.piBefore[0], newValue.piBefore[1], newValue.piBefore[2])
        }
    }
}

final class DPSModel {
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

    init(config c: SelectorConfig) {
        alpha0 = TransitionCounts.prior(c.dpsPriorShape, constant: c.dpsPriorAlpha)
        switch c.dpsPriorPi {
        case .uniform: pi0 = SIMD3(repeating: 1.0 / 3.0)
        case .unsolved: pi0 = SIMD3(1, 0, 0)
        case .partial: pi0 = SIMD3(0, 1, 0)
        case .solved: pi0 = SIMD3(0, 0, 1)
        }
        decay = c.dpsTransitionDecay
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

    var count: Int { table.count }

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
        let a = TransitionCounts(lanes: s.alpha.v * decay + alpha0.v * (1 - decay) + xi)
        return DPSPromptState(alpha: a, pi: normalized(normalized(a.expected.times(onehot))), piBefore: onehot)
    }

    /// One training step: observations in order (duplicates apply in turn), every
    /// other prompt implicitly propagated. Inputs are already validated.
    func update(ids: [Int64], rates: [Double]) {
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
                e[i].value.sampled &+= 1
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

    /// Mean entropy of the beliefs and times-selected statistics over every prompt
    /// (O(#prompts): brings each one forward).
    func summary() -> DPSSummary {
        var out = DPSSummary()
        out.prompts = UInt64(count)
        guard count > 0 else { return out }
        var entropy = 0.0, partial = 0.0, mean = 0.0, m2 = 0.0
        var lo = UInt32.max, hi: UInt32 = 0
        for i in 0..<count {
            let p = advance(&table.entries[i].value).pi
            entropy += DPSModel.entropy(p)
            partial += p[1]
            let t = table.entries[i].value.sampled
            lo = min(lo, t); hi = max(hi, t)
            // Welford: a stable standard deviation in one pass.
            let x = Double(t), d = x - mean
            mean += d / Double(i + 1)
            m2 += d * (x - mean)
        }
        out.meanEntropy = entropy / Double(count)
        out.meanPartial = partial / Double(count)
        out.sampledMin = UInt64(lo)
        out.sampledMax = UInt64(hi)
        out.sampledMean = mean
        out.sampledStd = (m2 / Double(count)).squareRoot()
        return out
    }

    /// Entropy as the reference computes it, -Σ p log(p + 1e-10), so that
    /// `topk+entropy` ranks exactly as the authors' sampler.
    @inline(__always)
    static func entropy(_ p: SIMD3<Double>) -> Double {
        -(p[0] * log(p[0] + 1e-10) + p[1] * log(p[1] + 1e-10) + p[2] * log(p[2] + 1e-10))
    }

    var allocatedBytes: Int {
        table.allocatedBytes
    }
}

/// How well the beliefs predicted the observations of one update call: accuracy of
/// argmax(pi) and precision/recall of the partial state, as the authors' trainer logs.
public struct DPSUpdateStats: Equatable, Sendable {
    public var observed: UInt64 = 0
    /// confusion[3 * observed + predicted]
    public var confusion = [UInt64](repeating: 0, count: 9)

    mutating func record(predicted p: SIMD3<Double>, observed o: SolvingState) {
        var best = 0
        for k in 1..<3 where p[k] > p[best] { best = k }
        confusion[3 * o.rawValue + best] += 1
        observed += 1
    }

    public var accuracy: Double {
        observed == 0 ? .nan : Double(confusion[0] + confusion[4] + confusion[8]) / Double(observed)
    }

    /// TP / predicted partial; NaN when nothing was predicted partial.
    public var partialPrecision: Double {
        let predicted = confusion[1] + confusion[4] + confusion[7]
        return predicted == 0 ? .nan : Double(confusion[4]) / Double(predicted)
    }

    /// TP / observed partial; NaN when nothing was observed partial.
    public var partialRecall: Double {
        let actual = confusion[3] + confusion[4] + confusion[5]
        return actual == 0 ? .nan : Double(confusion[4]) / Double(actual)
    }
}

/// Statistics over every tracked prompt.
public struct DPSSummary: Equatable, Sendable {
    public var prompts: UInt64 = 0
    public var meanEntropy = Double.nan
    public var meanPartial = Double.nan
    public var sampledMin: UInt64 = 0
    public var sampledMax: UInt64 = 0
    public var sampledMean = Double.nan
    public var sampledStd = Double.nan
}
