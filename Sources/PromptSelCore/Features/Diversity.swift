/// History-anchored diversity for the feature methods: a greedy batch that trades
/// each candidate's utility against its cosine similarity to the prompts already in
/// the batch and to the prompts trained in the last `history` steps (each step kept as
/// the unit centroid of its prompts' projected features).
///
///     next = argmax_i  u_i - weight * max( max_{j in batch} cos(i, j), max_{h} cos(i, h) )
///
/// Off at weight 0 (then the plain top-B is used). Only the M = max(8B, 512) best by
/// utility are considered, so a step costs O(B * M * rank); for large batches M
/// shrinks so that this stays under `workLimit` (see `considered`).
public struct Diversity: Sendable {
    public let weight: Double
    public let history: Int
    /// Centroids of the last `history` steps, newest last; rank floats each.
    var centroids: [[Float]] = []

    public static let specs: [ParameterSpec] = [
        .real("diversity", 0, in: 0...1e3, "weight of the cosine-similarity penalty in batch construction (0: off)"),
        .integer("diversity_history", 8, in: 0...1000, "steps of trained prompts the penalty also keeps away from"),
    ]

    init(_ p: Parameters) {
        weight = p.real("diversity")
        history = p.integer("diversity_history")
    }

    /// Unit vector of a projected row without its bias term (its length taken in
    /// Double, so no row of finite floats can overflow it to NaN).
    static func direction(_ phi: ArraySlice<Float>) -> [Float] {
        var v = Array(phi.dropLast())
        var n = 0.0
        for x in v { n += Double(x) * Double(x) }
        if n > 0, n.isFinite { let s = 1 / n.squareRoot(); for k in v.indices { v[k] = Float(Double(v[k]) * s) } }
        return v
    }

    @inline(__always)
    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var s: Float = 0
        for k in 0..<min(a.count, b.count) { s += a[k] * b[k] }
        return Double(s)
    }

    /// Most multiply-adds of one greedy batch (B picks over M considered, rank each):
    /// under a second here, so no batch size holds the selector's lock for long (B =
    /// 16384 with M = 8B at rank 64 was 1.4e11: 39 s). Below it nothing changes: up to
    /// B = 2048 at rank 64 the greedy considers 8B, up to about 5800 fewer, beyond that
    /// the batch is the top B by utility.
    static let workLimit = Double(1 << 31)

    /// Multiply-adds of a greedy batch of `batch` picks over `m` candidates.
    static func work(batch: Int, m: Int, rank: Int) -> Double { Double(batch) * Double(m) * Double(max(rank, 1)) }

    /// How many of the best candidates the greedy considers: max(8B, 512), fewer when
    /// that would pass `workLimit` (never fewer than B).
    static func considered(count: Int, batch: Int, rank: Int) -> Int {
        let m = min(count, max(8 * batch, 512))
        guard work(batch: batch, m: m, rank: rank) > workLimit else { return m }
        return min(count, max(batch, Int(workLimit / work(batch: batch, m: 1, rank: rank))))
    }

    /// Positions of the batch: by utility alone at weight 0, else greedily diverse.
    func choose(utility: [Double], phis: [ArraySlice<Float>], batch: Int, rng: inout Xoshiro256StarStar) -> [Int] {
        let tiebreak = utility.map { _ in rng.next() }
        let rank = max(0, (phis.first?.count ?? 1) - 1)
        let m = weight > 0 ? Diversity.considered(count: utility.count, batch: batch, rank: rank) : batch
        let ranked = SelectionRules.smallest(m, keys: utility.map { -$0 }, tiebreak: tiebreak)
        guard weight > 0 else { return ranked }
        // A batch so large that ordering its own B picks passes the limit: the top B.
        if m == batch && Diversity.work(batch: batch, m: m, rank: rank) > Diversity.workLimit { return ranked }
        let dirs = ranked.map { Diversity.direction(phis[$0]) }
        var penalty = dirs.map { d in centroids.map { Diversity.cosine(d, $0) }.max() ?? 0 }
        var taken = [Bool](repeating: false, count: ranked.count)
        var chosen: [Int] = []
        for _ in 0..<min(batch, ranked.count) {
            // The first candidate not taken stands in until one beats it, so a NaN
            // anywhere (no value compares above it) cannot leave `best` unset.
            var best = -1
            var bestValue = -Double.infinity
            for j in 0..<ranked.count where !taken[j] {
                let v = utility[ranked[j]] - weight * max(penalty[j], 0)
                if best < 0 || v > bestValue { bestValue = v.isNaN ? -.infinity : v; best = j }
            }
            taken[best] = true
            chosen.append(ranked[best])
            for j in 0..<ranked.count where !taken[j] { penalty[j] = max(penalty[j], Diversity.cosine(dirs[j], dirs[best])) }
        }
        return chosen
    }

    /// Remembers one training step's prompts.
    mutating func record(_ phis: [ArraySlice<Float>]) {
        guard history > 0, let first = phis.first else { return }
        var c = [Float](repeating: 0, count: first.count - 1)
        for phi in phis { for (k, v) in Diversity.direction(phi).enumerated() { c[k] += v } }
        var n: Float = 0
        for x in c { n += x * x }
        if n > 0 { let s = 1 / n.squareRoot(); for k in c.indices { c[k] *= s } }
        centroids.append(c)
        if centroids.count > history { centroids.removeFirst(centroids.count - history) }
    }

    func encode(_ w: inout ByteWriter) {
        w.u64(UInt64(centroids.count))
        for c in centroids { w.u64(UInt64(c.count)); for v in c { w.u32(v.bitPattern) } }
    }

    mutating func decode(_ r: inout ByteReader, width: Int) throws(PromptSelError) {
        let n = try r.u64("diversity history")
        guard n <= UInt64(history) else { throw .corrupt("checkpoint holds \(n) history steps, more than \(history)") }
        centroids = []
        for _ in 0..<Int(n) {
            let k = try r.u64("centroid size")
            guard k == UInt64(width) else { throw .corrupt("checkpoint holds a history centroid of \(k) values") }
            var c: [Float] = []
            for _ in 0..<width {
                let v = Float(bitPattern: try r.u32("centroid"))
                guard v.isFinite, abs(v) <= 1.0001 else { throw .corrupt("checkpoint holds an invalid history centroid") }
                c.append(v)
            }
            centroids.append(c)
        }
    }
}
