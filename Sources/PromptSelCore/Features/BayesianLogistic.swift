#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shared predictive model of the feature methods (gps, hybrid): Bayesian
/// logistic regression of a prompt's success probability on its features, through a
/// fixed random projection, with a Gaussian posterior that forgets (docs/GPS.md).
///
///     phi(x) = [R x, 1]                     R: rank x dim, N(0, 1/rank) entries, fixed
///     logit p(x) = w . phi(x),   w ~ N(mu, P^-1)
///
/// Each step: the precision is discounted towards the prior, P <- l P + (1 - l) P0
/// (so old evidence fades and the model tracks the moving policy), then the binomial
/// outcomes of the step (s of k for each observed prompt) enter by a Laplace update:
/// damped Newton steps (backtracking line search) to the MAP of the step's posterior, and P <- P + H at the MAP.
/// Prediction for any prompt, seen or not: mean logit a = mu . phi, variance
/// v = phi^T P^-1 phi, mean success ~ sigmoid(a / sqrt(1 + pi v / 8)) (the probit
/// approximation), and its standard deviation by the delta method.
public struct BayesianLogistic: Sendable {
    public let dim: Int
    public let rank: Int
    /// rank x dim, row-major; the identity when dim <= rank (then rank == dim).
    let projection: [Float]
    public var mean: [Double]
    /// Precision, D x D row-major (D = rank + 1).
    public var precision: [Double]
    /// Lower Cholesky factor of `precision`, kept in step with it.
    var cholesky: [Double]
    let priorPrecision: Double
    let forget: Double

    public var size: Int { rank + 1 }

    public init(dim: Int, rank requested: Int, priorVariance: Double, forget: Double, seed: UInt64) {
        self.dim = dim
        let rank = min(requested, dim)
        self.rank = rank
        if rank == dim {
            projection = []
        } else {
            var rng = Xoshiro256StarStar(seed: seed ^ 0x7072_6F6A_6563_7430)  // "project0"
            let scale = 1 / Double(rank).squareRoot()
            projection = (0..<(rank * dim)).map { _ in Float(BetaSampler.normal(&rng) * scale) }
        }
        let d = rank + 1
        priorPrecision = 1 / priorVariance
        self.forget = forget
        mean = [Double](repeating: 0, count: d)
        precision = [Double](repeating: 0, count: d * d)
        for i in 0..<d { precision[i * d + i] = priorPrecision }
        cholesky = [Double](repeating: 0, count: d * d)
        for i in 0..<d { cholesky[i * d + i] = priorPrecision.squareRoot() }
    }

    /// phi(x) = [R u, 1] with u = x / |x| (u = 0 for a zero row), as Float: what is
    /// stored per prompt. The model sees each row's direction only: a scale of 1e-30
    /// or 1e38 can neither overflow the projection nor leave the weights of a logit
    /// that never moves (issue 17), and |R u| <= |R|_F bounds every stored value.
    /// The norm is taken in Double, where the square of any finite Float is finite.
    public func project(_ x: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>,
                        scratch u: UnsafeMutableBufferPointer<Float>) {
        var squares = 0.0
        for v in x { squares += Double(v) * Double(v) }
        let inverse = squares > 0 ? 1 / squares.squareRoot() : 0
        for k in 0..<dim { u[k] = Float(Double(x[k]) * inverse) }
        if projection.isEmpty {
            for k in 0..<dim { out[k] = u[k] }
        } else {
            projection.withUnsafeBufferPointer { r in
                for i in 0..<rank {
                    var s: Float = 0
                    let row = i * dim
                    for j in 0..<dim { s += r[row + j] * u[j] }
                    out[i] = s
                }
            }
        }
        out[rank] = 1
    }

    /// `project` of one row into a new array (tests, small callers).
    public func project(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: size)
        var u = [Float](repeating: 0, count: dim)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { o in u.withUnsafeMutableBufferPointer { project(xp, into: o, scratch: $0) } }
        }
        return out
    }

    /// Largest squared length a projected row can have (|R|_F^2 for a unit row, 1
    /// without a projection), with room for float rounding: the check of rows read
    /// from a file, where a valid checksum does not make a value valid.
    var projectedBound: Double {
        var f = 0.0
        for v in projection { f += Double(v) * Double(v) }
        return (projection.isEmpty ? 1 : f) * 1.001 + 1e-6
    }

    @inline(__always)
    static func sigmoid(_ a: Double) -> Double { a >= 0 ? 1 / (1 + exp(-a)) : exp(a) / (1 + exp(a)) }

    /// log(1 + e^x) without overflow.
    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    /// Upper bound on the damped Newton steps of one update (it usually stops
    /// after a handful, when the step no longer moves the weights).
    static let newtonSteps = 30

    @inline(__always)
    func dot(_ w: [Double], _ phi: ArraySlice<Float>) -> Double {
        w.withUnsafeBufferPointer { a in
            phi.withUnsafeBufferPointer { b in
                var s = 0.0
                for k in 0..<b.count { s += a[k] * Double(b[k]) }
                return s
            }
        }
    }

    /// (mean logit, logit variance) of a projected prompt.
    func logit(_ phi: ArraySlice<Float>) -> (mean: Double, variance: Double) {
        let d = size
        // v = ||L^-1 phi||^2 by forward substitution, in a scratch buffer on the stack.
        let v = withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { y in
            cholesky.withUnsafeBufferPointer { l in
                phi.withUnsafeBufferPointer { x in
                    var v = 0.0
                    for i in 0..<d {
                        var s = Double(x[i])
                        let row = i * d
                        for j in 0..<i { s -= l[row + j] * y[j] }
                        y[i] = s / l[row + i]
                        v += y[i] * y[i]
                    }
                    return v
                }
            }
        }
        return (dot(mean, phi), v)
    }

    /// Predictive mean success probability and its standard deviation.
    public func predict(_ phi: ArraySlice<Float>) -> (mean: Double, std: Double) {
        let (a, v) = logit(phi)
        let p = BayesianLogistic.sigmoid(a / (1 + Double.pi * v / 8).squareRoot())
        return (p, p * (1 - p) * v.squareRoot())
    }

    /// One posterior draw of the weights, w = mu + L^-T z (z standard normal).
    public func draw(_ rng: inout Xoshiro256StarStar) -> [Double] {
        let d = size
        let z = (0..<d).map { _ in BetaSampler.normal(&rng) }
        var x = [Double](repeating: 0, count: d)
        for i in stride(from: d - 1, through: 0, by: -1) {
            var s = z[i]
            for j in (i + 1)..<d { s -= cholesky[j * d + i] * x[j] }
            x[i] = s / cholesky[i * d + i]
        }
        return (0..<d).map { mean[$0] + x[$0] }
    }

    /// Success probability under drawn weights.
    public func probability(_ w: [Double], _ phi: ArraySlice<Float>) -> Double {
        BayesianLogistic.sigmoid(dot(w, phi))
    }

    /// One training step: forget, then the Laplace update with the step's outcomes
    /// (`phis` rows of `size`, successes s_i of k_i trials).
    public mutating func update(phis: [Float], successes: [Double], trials: [Double]) {
        let d = size, n = successes.count
        for i in 0..<(d * d) { precision[i] *= forget }
        for i in 0..<d { precision[i * d + i] += (1 - forget) * priorPrecision }
        let priorMean = mean, prior = precision
        // The step's features transposed (d rows of n), so every Hessian entry is one
        // contiguous, vectorisable dot product over the observations.
        var t = [Double](repeating: 0, count: d * n)
        for o in 0..<n { for i in 0..<d { t[i * n + o] = Double(phis[o * d + i]) } }
        var w = mean
        var h = prior
        var weight = [Double](repeating: 0, count: n)
        var residual = [Double](repeating: 0, count: n)
        func curvature(at w: [Double]) -> [Double] {
            // weight_o = k p (1 - p) and residual_o = s - k p at w; returns the Hessian.
            var logit = [Double](repeating: 0, count: n)
            t.withUnsafeBufferPointer { tp in
                for i in 0..<d where w[i] != 0 {
                    let wi = w[i], row = i * n
                    for o in 0..<n { logit[o] += wi * tp[row + o] }
                }
            }
            for o in 0..<n {
                let p = BayesianLogistic.sigmoid(logit[o])
                weight[o] = trials[o] * p * (1 - p)
                residual[o] = successes[o] - trials[o] * p
            }
            var hessian = prior
            t.withUnsafeBufferPointer { tp in
                weight.withUnsafeBufferPointer { c in
                    for i in 0..<d {
                        let ri = i * n
                        for j in 0...i {
                            let rj = j * n
                            var acc = 0.0
                            for o in 0..<n { acc += c[o] * tp[ri + o] * tp[rj + o] }
                            hessian[i * d + j] += acc
                        }
                    }
                }
            }
            for i in 0..<d { for j in 0..<i { hessian[j * d + i] = hessian[i * d + j] } }
            return hessian
        }
        // Log posterior of the step (up to a constant): the binomial log likelihood,
        // with stable log-sigmoids, minus the Gaussian prior's quadratic form.
        func objective(_ w: [Double]) -> Double {
            var value = 0.0
            t.withUnsafeBufferPointer { tp in
                for o in 0..<n {
                    var z = 0.0
                    for i in 0..<d where w[i] != 0 { z += w[i] * tp[i * n + o] }
                    // log p = -softplus(-z), log(1 - p) = -softplus(z)
                    value -= successes[o] * BayesianLogistic.softplus(-z)
                        + (trials[o] - successes[o]) * BayesianLogistic.softplus(z)
                }
            }
            for i in 0..<d {
                var acc = 0.0
                for j in 0..<d { acc += prior[i * d + j] * (w[j] - priorMean[j]) }
                value -= 0.5 * (w[i] - priorMean[i]) * acc
            }
            return value
        }
        // Damped Newton to the MAP: a full Newton step from the prior mean overshoots
        // when one prompt's k rollouts all agree (the likelihood is nearly flat far
        // out), and a Hessian taken at such an iterate moved predictions the wrong way.
        // Backtracking (Armijo) makes every step increase the log posterior; the
        // objective is strictly concave, so this converges to the MAP.
        var current = objective(w)
        for _ in 0..<BayesianLogistic.newtonSteps {
            h = curvature(at: w)
            // Gradient of the log posterior at w.
            var g = [Double](repeating: 0, count: d)
            for i in 0..<d {
                var acc = 0.0
                for j in 0..<d { acc -= prior[i * d + j] * (w[j] - priorMean[j]) }
                let ri = i * n
                for o in 0..<n { acc += residual[o] * t[ri + o] }
                g[i] = acc
            }
            guard let l = BayesianLogistic.cholesky(h, d) else { break }
            let step = BayesianLogistic.solve(l, d, g)
            var slope = 0.0
            for i in 0..<d { slope += g[i] * step[i] }
            guard slope.isFinite, slope > 1e-14 else { break }  // at the MAP
            var scale = 1.0, accepted = false
            var trial = w
            while scale >= 1.0 / 1024 {
                for i in 0..<d { trial[i] = w[i] + scale * step[i] }
                let value = objective(trial)
                if value.isFinite && value >= current + 1e-4 * scale * slope {
                    current = value
                    accepted = true
                    break
                }
                scale *= 0.5
            }
            guard accepted else { break }
            var largest = 0.0
            for i in 0..<d { largest = max(largest, abs(trial[i] - w[i])) }
            w = trial
            if largest < 1e-9 { break }
        }
        h = curvature(at: w)  // the Hessian at the final weights
        if let l = BayesianLogistic.cholesky(h, d), w.allSatisfy(\.isFinite) {
            mean = w
            precision = h
            cholesky = l
        } else if let l = BayesianLogistic.cholesky(precision, d) {
            cholesky = l  // the forgetting alone (a degenerate step is skipped)
        }
    }

    /// Replaces mean and precision (a checkpoint); false unless the precision is
    /// symmetric positive definite and everything finite.
    mutating func restore(mean m: [Double], precision p: [Double]) -> Bool {
        let d = size
        guard m.count == d, p.count == d * d, m.allSatisfy(\.isFinite), p.allSatisfy(\.isFinite) else { return false }
        for i in 0..<d { for j in 0..<i where p[i * d + j] != p[j * d + i] { return false } }
        guard let l = BayesianLogistic.cholesky(p, d) else { return false }
        mean = m
        precision = p
        cholesky = l
        return true
    }

    static func cholesky(_ a: [Double], _ d: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0...i {
                var s = a[i * d + j]
                for k in 0..<j { s -= l[i * d + k] * l[j * d + k] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * d + i] = s.squareRoot()
                } else {
                    l[i * d + j] = s / l[j * d + j]
                }
            }
        }
        return l
    }

    /// Solves (L L^T) x = b.
    static func solve(_ l: [Double], _ d: Int, _ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<d {
            for k in 0..<i { y[i] -= l[i * d + k] * y[k] }
            y[i] /= l[i * d + i]
        }
        for i in stride(from: d - 1, through: 0, by: -1) {
            for k in (i + 1)..<d { y[i] -= l[k * d + i] * y[k] }
            y[i] /= l[i * d + i]
        }
        return y
    }
}
