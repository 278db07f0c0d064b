/// MoPPS (Qu et al., arXiv 2507.04632): a Beta(alpha, beta) posterior over each
/// prompt's success rate, discounted towards the prior at update time, and
/// Thompson sampling to choose prompts.
///
/// Per prompt: (alpha, beta) side by side (16 bytes, one cache line holds four
/// prompts) plus its id and slot in the table.
final class MoPPSModel {
    var table = PromptTable()
    /// (alpha, beta) of dense index i.
    var posteriors: [SIMD2<Double>] = []
    let alpha0: Double
    let beta0: Double

    init(alpha0: Double, beta0: Double) {
        self.alpha0 = alpha0
        self.beta0 = beta0
    }

    var count: Int { table.count }
    var prior: SIMD2<Double> { SIMD2(alpha0, beta0) }

    /// Bulk growth before inserting up to `extra` prompts (see `PromptTable.bulkCapacity`).
    func reserve(extra: Int) {
        guard let cap = PromptTable.bulkCapacity(current: posteriors.capacity, count: count, extra: extra) else { return }
        table.reserveCapacity(cap)
        posteriors.reserveCapacity(cap)
    }

    /// Dense indices of `ids`, creating unseen ones at the prior.
    func resolve(_ ids: [Int64]) -> [Int] {
        let before = count
        let indices = table.resolve(ids, insert: true)
        if count > before { posteriors.append(contentsOf: repeatElement(prior, count: count - before)) }
        return indices
    }

    /// One Thompson draw r ~ Beta(alpha, beta) per candidate, creating unseen ids.
    func draw(_ candidates: [Int64], _ rng: inout Xoshiro256StarStar) -> [Double] {
        // A pool larger than everything known is a bulk load: grow once.
        if candidates.count > count { reserve(extra: candidates.count) }
        let indices = resolve(candidates)
        // Gather first: these loads do not wait on each other (or on the serial
        // generator), so their cache misses overlap; then draw from the copy.
        let shapes = posteriors.withUnsafeBufferPointer { post in indices.map { post[$0] } }
        return shapes.map { BetaSampler.beta($0[0], $0[1], &rng) }
    }

    /// alpha <- l*alpha + (1-l)*alpha0 + s*k, beta <- l*beta + (1-l)*beta0 + (1-s)*k.
    /// Inputs are already validated; duplicates apply in order.
    func update(ids: [Int64], rates: [Double], rollouts: [Int32], decay: Double) {
        let indices = resolve(ids)
        let pull = prior * (1 - decay)
        posteriors.withUnsafeMutableBufferPointer { post in
            for (j, i) in indices.enumerated() {
                let k = Double(rollouts[j])
                post[i] = post[i] * decay + pull + SIMD2(rates[j] * k, (1 - rates[j]) * k)
            }
        }
    }

    /// Posterior of each id, or the prior for ids never seen.
    func posterior(_ ids: [Int64]) -> [SIMD2<Double>] {
        table.resolve(ids, insert: false).map { $0 < 0 ? prior : posteriors[$0] }
    }

    /// Sets (or adds) the posterior of each id; values already validated.
    func set(ids: [Int64], alpha a: [Double], beta b: [Double]) {
        reserve(extra: ids.count)
        for (j, i) in resolve(ids).enumerated() { posteriors[i] = SIMD2(a[j], b[j]) }
    }

    var allocatedBytes: Int { table.allocatedBytes + posteriors.capacity * 16 }
}
