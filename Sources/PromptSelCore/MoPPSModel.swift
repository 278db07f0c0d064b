/// MoPPS (Qu et al., arXiv 2507.04632): a Beta(alpha, beta) posterior over each
/// prompt's success rate, discounted towards the prior at update time, and
/// Thompson sampling to choose prompts.
///
/// State is three flat arrays indexed by the dense prompt index: 24 bytes per
/// prompt plus the id table.
final class MoPPSModel {
    var table = PromptTable()
    var alpha: [Double] = []
    var beta: [Double] = []
    let alpha0: Double
    let beta0: Double

    init(alpha0: Double, beta0: Double) {
        self.alpha0 = alpha0
        self.beta0 = beta0
    }

    var count: Int { table.count }

    /// Dense index of `id`, created at the prior on first sight.
    @inline(__always)
    func indexOrInsert(_ id: Int64) -> Int {
        let (i, inserted) = table.insert(id)
        if inserted {
            alpha.append(alpha0)
            beta.append(beta0)
        }
        return i
    }

    /// One Thompson draw r ~ Beta(alpha, beta) per candidate, creating unseen ids.
    func draw(_ candidates: [Int64], _ rng: inout Xoshiro256StarStar) -> [Double] {
        // A pool larger than everything known is a bulk load: grow once.
        if candidates.count > count { reserve(extra: candidates.count) }
        var r = [Double](repeating: 0, count: candidates.count)
        for (p, id) in candidates.enumerated() {
            let i = indexOrInsert(id)
            r[p] = BetaSampler.beta(alpha[i], beta[i], &rng)
        }
        return r
    }

    /// alpha <- l*alpha + (1-l)*alpha0 + s*k, beta <- l*beta + (1-l)*beta0 + (1-s)*k.
    /// Inputs are already validated; duplicates apply in order.
    func update(ids: [Int64], rates: [Double], rollouts: [Int32], decay: Double) {
        for (j, id) in ids.enumerated() {
            let i = indexOrInsert(id)
            let s = rates[j]
            let k = Double(rollouts[j])
            alpha[i] = decay * alpha[i] + (1 - decay) * alpha0 + s * k
            beta[i] = decay * beta[i] + (1 - decay) * beta0 + (1 - s) * k
        }
    }

    /// Posterior of `id`, or the prior for an id never seen.
    func posterior(_ id: Int64) -> (alpha: Double, beta: Double) {
        guard let i = table.index(of: id) else { return (alpha0, beta0) }
        return (alpha[i], beta[i])
    }

    /// Bulk growth before inserting up to `extra` prompts (see `PromptTable.bulkCapacity`).
    func reserve(extra: Int) {
        guard let cap = PromptTable.bulkCapacity(current: alpha.capacity, count: count, extra: extra) else { return }
        table.reserveCapacity(cap)
        alpha.reserveCapacity(cap)
        beta.reserveCapacity(cap)
    }

    /// Sets (or adds) the posterior of each id; values already validated.
    func set(ids: [Int64], alpha a: [Double], beta b: [Double]) {
        reserve(extra: ids.count)
        for (j, id) in ids.enumerated() {
            let i = indexOrInsert(id)
            alpha[i] = a[j]
            beta[i] = b[j]
        }
    }

    var allocatedBytes: Int { table.allocatedBytes + alpha.capacity * 8 + beta.capacity * 8 }
}
