#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The value types of the DPS model: solving states, transition counts, a prompt's
// state and its packed record, and the diagnostics of an update.

/// Solving states of a prompt, observed from its success rate over k rollouts.
public enum SolvingState: Int, Sendable, CaseIterable {
    case unsolved = 0  // s = 0
    case partial = 1  // 0 < s < 1
    case solved = 2  // s = 1

    public init(successRate s: Double) {
        self = s == 0 ? .unsolved : (s == 1 ? .solved : .partial)
    }
}

/// Named shapes of the prior transition counts (the reference's hmm_prior_alpha).
public enum DPSPriorShape: String, Sendable, CaseIterable {
    case constant, progress, stability, local
}

/// The prior belief (the reference's hmm_prior_pi: uniform, or one-hot on state 1-3).
public enum DPSPriorPi: String, Sendable, CaseIterable {
    case uniform, unsolved, partial, solved
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
    /// Population variance over the prompts of each transition count, averaged over
    /// the 9 counts (the authors' `np.var(alphas, axis=0).mean()`).
    public var alphaVariance = Double.nan
    /// The same for the 3 entries of the predicted belief.
    public var beliefVariance = Double.nan
    /// Mean over the prompts of the largest / smallest entry of the predicted belief.
    public var beliefMaxMean = Double.nan
    public var beliefMinMean = Double.nan
}
