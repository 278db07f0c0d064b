/// MoPPS (Qu et al., arXiv 2507.04632): a Beta(alpha, beta) posterior over each
/// prompt's success rate, discounted towards the prior at update time, and
/// Thompson sampling to choose prompts.
///
/// Per prompt: one 24-byte table entry (id, alpha, beta) plus its hash slot.
final class MoPPSModel {
    struct Posterior {
        var alpha: Double
        var beta: Double
    }

    var table = PromptTable<Posterior>()
    let prior: Posterior

    init(alpha0: Double, beta0: Double) {
        prior = Posterior(alpha: alpha0, beta: beta0)
    }

    var count: Int { table.count }

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
    /// Inputs are already validated; duplicates apply in order.
    func update(ids: [Int64], rates: [Double], rollouts: [Int32], decay: Double) {
        let indices = table.resolve(ids, inserting: prior)
        let (a0, b0) = (prior.alpha * (1 - decay), prior.beta * (1 - decay))
        table.entries.withUnsafeMutableBufferPointer { e in
            for (j, i) in indices.enumerated() {
                let k = Double(rollouts[j])
                e[i].value.alpha = decay * e[i].value.alpha + a0 + rates[j] * k
                e[i].value.beta = decay * e[i].value.beta + b0 + (1 - rates[j]) * k
            }
        }
    }

    /// Posterior of each id, or the prior for ids never seen.
    func posterior(_ ids: [Int64]) -> [Posterior] {
        table.resolve(ids, inserting: nil).map { $0 < 0 ? prior : table.entries[$0].value }
    }

    /// Sets (or adds) the posterior of each id; values already validated.
    func set(ids: [Int64], alpha a: [Double], beta b: [Double]) {
        table.reserve(extra: ids.count)
        for (j, i) in table.resolve(ids, inserting: prior).enumerated() {
            table.entries[i].value = Posterior(alpha: a[j], beta: b[j])
        }
    }

    var allocatedBytes: Int { table.allocatedBytes }
}
