/// DPS as a `SelectionModel`: its parameters, selection rule, state rows,
/// diagnostics and checkpoint payload.
extension DPSModel {
    public static let info = MethodInfo(
        name: "dps", checkpointID: 2,
        summary: "hidden Markov model of each prompt's solving state (unsolved, partial, solved) (arXiv 2603.10887)",
        strategies: ["topk", "topk+entropy", "uniform"], defaultStrategy: "topk",
        parameters: [
            .choice("prior_shape", "constant", DPSPriorShape.allCases.map(\.rawValue),
                    "prior transition counts: every count prior_alpha, or a named shape"),
            .real("prior_alpha", 1.0, in: CountBounds.range, "every prior transition count (prior_shape=constant)"),
            .choice("prior_pi", "uniform", DPSPriorPi.allCases.map(\.rawValue), "prior belief over the solving state"),
            .real("transition_decay", 1.0, in: 0...1, minOpen: true,
                  "lambda_T: transition counts decay towards the prior each step (1: none; else at most 0.999)"),
            .real("entropy_weight", 0.0, in: 0...CountBounds.max, "topk+entropy: weight of the belief's entropy in the score"),
        ],
        state: [
            .init("p_unsolved", "predicted probability of the unsolved state at the next step"),
            .init("p_partial", "predicted probability of the partial state (the topk score)"),
            .init("p_solved", "predicted probability of the solved state"),
        ] + (0..<3).flatMap { to in (0..<3).map { from in
            MethodInfo.Column("alpha_\(to)\(from)", "transition count from state \(from) to state \(to)")
        } } + [
            .init("before_unsolved", "the belief one step earlier (the 'from' side of transition learning)"),
            .init("before_partial", "the belief one step earlier"),
            .init("before_solved", "the belief one step earlier"),
            .init("sampled", "times the prompt was observed"),
        ],
        metrics: [
            .init("observed", .step, "observations in the last update"),
            .init("accuracy", .step, "argmax of the predicted belief equals the observed state (NaN: none observed)"),
            .init("partial_precision", .step, "precision of predicting the partial state (NaN: none predicted)"),
            .init("partial_recall", .step, "recall of the partial state (NaN: none observed partial)"),
        ] + (0..<3).flatMap { o in (0..<3).map { p in
            MethodInfo.Metric("confusion_\(o)\(p)", .step, "observations of state \(o) predicted as state \(p)")
        } } + [
            .init("prompts", .all, "prompts tracked"),
            .init("mean_entropy", .all, "mean entropy -sum p log(p + 1e-10) of the beliefs"),
            .init("mean_partial", .all, "mean predicted probability of the partial state"),
            .init("sampled_min", .all, "times observed: minimum over the prompts"),
            .init("sampled_max", .all, "times observed: maximum"),
            .init("sampled_mean", .all, "times observed: mean"),
            .init("sampled_std", .all, "times observed: standard deviation"),
            .init("alpha_variance", .all,
                  "variance over the prompts of each transition count, averaged over the 9 counts"),
            .init("belief_variance", .all,
                  "variance over the prompts of each predicted belief entry, averaged over the 3 entries"),
            .init("belief_max_mean", .all, "mean over the prompts of the largest predicted belief entry"),
            .init("belief_min_mean", .all, "mean over the prompts of the smallest predicted belief entry"),
        ])

    public var ids: [Int64] { table.ids }
    public var entryBytes: Int { PromptTable<DPSRecord>.entryBytes }

    public func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection {
        if candidates.count > count { table.reserve(extra: candidates.count) }
        let w = entropyWeight
        var score = [Double](repeating: 0, count: candidates.count)
        forEachCurrent(resolve(candidates)) { j, s in
            score[j] = w == 0 ? s.pi[1] : s.pi[1] + w * DPSModel.entropy(s.pi)
        }
        let chosen: [Int]
        if uniform {
            chosen = SelectionRules.uniform(n: score.count, k: batchSize, rng: &rng)
        } else {
            // Highest score first; exact ties in random order from the seeded
            // generator (the reference leaves them to argsort).
            let tiebreak = score.map { _ in rng.next() }
            chosen = SelectionRules.smallest(batchSize, keys: score.map { -$0 }, tiebreak: tiebreak)
        }
        return Selection(positions: chosen, scores: chosen.map { score[$0] })
    }

    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        guard step < UInt32.max else { throw PromptSelError(.outOfRange, "more than 2^32 - 1 training steps") }
        observe(ids: ids, rates: rates)
    }

    /// Expected success rate with state values 0, 1/2, 1: the partial state's rates
    /// are spread over (0, 1) and their mean is 1/2 for a symmetric spread.
    public func predict(_ ids: [Int64]) -> [Double] {
        var out = [Double](repeating: 0, count: ids.count)
        forEachCurrent(table.resolve(ids, inserting: nil)) { j, s in out[j] = 0.5 * s.pi[1] + s.pi[2] }
        return out
    }

    public func state(_ ids: [Int64], columns: Range<Int>) -> [Double] {
        let indices = table.resolve(ids, inserting: nil)
        let w = columns.count
        // One allocation for all rows, only the columns asked for, states in blocks.
        var out = [Double](repeating: 0, count: w * ids.count)
        forEachCurrent(indices) { j, s in
            let i = indices[j]
            for (k, c) in columns.enumerated() {
                out[w * j + k] = switch c {
                case 0..<3: s.pi[c]
                case 3..<12: s.alpha.v[c - 3]
                case 12..<15: s.piBefore[c - 12]
                default: Double(i < 0 ? 0 : table.entries[i].value.sampled)
                }
            }
        }
        return out
    }

    public var priorRow: [Double] {
        [pi0[0], pi0[1], pi0[2]] + (0..<9).map { alpha0.v[$0] } + [pi0[0], pi0[1], pi0[2], 0]
    }

    /// Counts finite, in [0, 1e15], with positive column sums; beliefs finite, >= 0,
    /// summing to 1 within 1e-6 (renormalised); sampled an integer in [0, 2^32).
    public func setState(ids: [Int64], rows: [Double]) throws(PromptSelError) {
        var states: [DPSPromptState] = []
        var sampled: [UInt32] = []
        for i in 0..<ids.count {
            let row = Array(rows[(16 * i)..<(16 * i + 16)])
            let (s, t) = try DPSModel.state(row: row, id: ids[i])
            states.append(s)
            sampled.append(t)
        }
        set(ids: ids, states: states, sampled: sampled)
    }

    static func state(row r: [Double], id: Int64) throws(PromptSelError) -> (DPSPromptState, UInt32) {
        var lanes = SIMD16<Double>.zero
        for k in 0..<9 { lanes[k] = r[3 + k] }
        let s = DPSPromptState(alpha: TransitionCounts(lanes: lanes), pi: SIMD3(r[0], r[1], r[2]),
                               piBefore: SIMD3(r[12], r[13], r[14]))
        try check(s, id: id)
        let t = r[15]
        guard t >= 0, t <= Double(UInt32.max), t.rounded() == t else {
            throw .range("sampled_times of id \(id) is \(t) (need an integer 0 ... 2^32 - 1)")
        }
        return (DPSPromptState(alpha: s.alpha, pi: s.pi / s.pi.sum(), piBefore: s.piBefore / s.piBefore.sum()), UInt32(t))
    }

    /// The one validation of a prompt's state, for imports and loads alike: counts
    /// finite in [0, 1e15] with positive column sums, beliefs probability vectors
    /// (>= 0, summing to 1 within 1e-6).
    static func check(_ s: DPSPromptState, id: Int64) throws(PromptSelError) {
        let a = s.alpha.v
        for k in 0..<9 where !(a[k].isFinite && a[k] >= 0 && a[k] <= CountBounds.max) {
            throw .range("alpha of id \(id) has an invalid count \(a[k]) (need 0 ... \(CountBounds.max))")
        }
        for j in 0..<3 where !(a[j] + a[3 + j] + a[6 + j] > 0) {
            throw .range("alpha of id \(id) has an all-zero column \(j)")
        }
        for (name, p) in [("pi", s.pi), ("pi_before", s.piBefore)] {
            let sum = p[0] + p[1] + p[2]
            guard p[0] >= 0, p[1] >= 0, p[2] >= 0, sum.isFinite, abs(sum - 1) <= 1e-6 else {
                throw .range("\(name) of id \(id) is not a probability vector: (\(p[0]), \(p[1]), \(p[2]))")
            }
        }
    }

    public func metrics(_ scope: MetricScope) -> [Double] {
        switch scope {
        case .step:
            let u = lastUpdate
            return [Double(u.observed), u.accuracy, u.partialPrecision, u.partialRecall] + u.confusion.map { Double($0) }
        case .all:
            let s = summary()
            return [Double(s.prompts), s.meanEntropy, s.meanPartial, Double(s.sampledMin), Double(s.sampledMax),
                    s.sampledMean, s.sampledStd, s.alphaVariance, s.beliefVariance, s.beliefMaxMean, s.beliefMinMean]
        }
    }

    // MARK: - Checkpoint payload
    // step, last update's statistics, n, ids, then per prompt: 9 counts, pi, pi_before
    // (each as a block of n), sampled, last step, exact steps left.

    public func encode(_ w: inout ByteWriter) {
        w.u32(step)
        w.u64(lastUpdate.observed)
        for c in lastUpdate.confusion { w.u64(c) }
        w.u64(UInt64(count))
        w.i64s(table.ids)
        let records = table.entries.map(\.value)
        for r in records {
            w.f64(r.a0); w.f64(r.a1); w.f64(r.a2); w.f64(r.a3); w.f64(r.a4)
            w.f64(r.a5); w.f64(r.a6); w.f64(r.a7); w.f64(r.a8)
        }
        for r in records { w.f64(r.p0); w.f64(r.p1); w.f64(r.p2) }
        for r in records { w.f64(r.b0); w.f64(r.b1); w.f64(r.b2) }
        for r in records { w.u32(r.sampled) }
        for r in records { w.u32(r.lastStep) }
        for r in records { w.u32(r.exactLeft) }
    }

    /// Straight into the table, no intermediate arrays. Every prompt's state passes
    /// the checks of `setState` (the loader keeps the stored beliefs bit-exact rather
    /// than renormalising them), and the bookkeeping must be one the model could
    /// have reached: nothing a file says may trap or mislead later.
    public func decode(_ r: inout ByteReader) throws(PromptSelError) {
        step = try r.u32("DPS step")
        var stats = DPSUpdateStats()
        stats.observed = try r.u64()
        var total: UInt64 = 0
        for k in 0..<9 {
            stats.confusion[k] = try r.u64()
            let (sum, overflow) = total.addingReportingOverflow(stats.confusion[k])
            guard !overflow else { throw .corrupt("checkpoint holds invalid DPS update statistics") }
            total = sum
        }
        guard total == stats.observed else {
            throw .corrupt("checkpoint holds invalid DPS update statistics: \(total) counted, \(stats.observed) observed")
        }
        lastUpdate = stats
        let n = try r.count(bytesPerPrompt: 140)
        var loaded = PromptTable<DPSRecord>()
        loaded.reserveCapacity(n)
        let blank = DPSRecord(prior, sampled: 0, lastStep: 0, exactLeft: 0)
        for _ in 0..<n {
            guard loaded.insert(try r.i64("ids"), blank).inserted else { throw .corrupt("checkpoint lists an id twice") }
        }
        try loaded.entries.withUnsafeMutableBufferPointer { (e) throws(PromptSelError) in
            for i in 0..<n {
                (e[i].value.a0, e[i].value.a1, e[i].value.a2) = (try r.f64(), try r.f64(), try r.f64())
                (e[i].value.a3, e[i].value.a4, e[i].value.a5) = (try r.f64(), try r.f64(), try r.f64())
                (e[i].value.a6, e[i].value.a7, e[i].value.a8) = (try r.f64(), try r.f64(), try r.f64())
            }
            for i in 0..<n { (e[i].value.p0, e[i].value.p1, e[i].value.p2) = (try r.f64(), try r.f64(), try r.f64()) }
            for i in 0..<n { (e[i].value.b0, e[i].value.b1, e[i].value.b2) = (try r.f64(), try r.f64(), try r.f64()) }
            for i in 0..<n { e[i].value.sampled = try r.u32() }
            for i in 0..<n { e[i].value.lastStep = try r.u32() }
            for i in 0..<n { e[i].value.exactLeft = try r.u32() }
            for i in 0..<n {
                do throws(PromptSelError) { try DPSModel.check(e[i].value.state, id: e[i].id) } catch {
                    throw .corrupt("checkpoint holds an invalid DPS state: \(error.message)")
                }
                guard e[i].value.lastStep <= step, Int(e[i].value.exactLeft) <= settleSteps else {
                    throw .corrupt("checkpoint holds invalid DPS bookkeeping for id \(e[i].id)")
                }
            }
        }
        table = loaded
    }
}
