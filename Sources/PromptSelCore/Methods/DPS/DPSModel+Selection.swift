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
                  "lambda_T: transition counts decay towards the prior each step (1: none)"),
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
        ])

    public var ids: [Int64] { table.ids }
    public var entryBytes: Int { PromptTable<DPSRecord>.entryBytes }

    public func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection {
        if candidates.count > count { table.reserve(extra: candidates.count) }
        let w = entropyWeight
        let score = current(resolve(candidates)).map { s -> Double in
            w == 0 ? s.pi[1] : s.pi[1] + w * DPSModel.entropy(s.pi)
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
        current(ids).map { 0.5 * $0.pi[1] + $0.pi[2] }
    }

    public func state(_ ids: [Int64], columns: Range<Int>) -> [Double] {
        let indices = table.resolve(ids, inserting: nil)
        let states = current(indices)
        let w = columns.count
        // Filled in place: one allocation for all rows, only the columns asked for.
        return [Double](unsafeUninitializedCapacity: w * ids.count) { out, initialized in
            table.entries.withUnsafeBufferPointer { e in
                for (j, (s, i)) in zip(states, indices).enumerated() {
                    for (k, c) in columns.enumerated() {
                        let v: Double = switch c {
                        case 0..<3: s.pi[c]
                        case 3..<12: s.alpha.v[c - 3]
                        case 12..<15: s.piBefore[c - 12]
                        default: Double(i < 0 ? 0 : e[i].value.sampled)
                        }
                        out[w * j + k] = v
                    }
                }
            }
            initialized = w * ids.count
        }
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
        for k in 0..<9 {
            let a = r[3 + k]
            guard a.isFinite, a >= 0, a <= CountBounds.max else {
                throw .range("alpha of id \(id) has an invalid count \(a) (need 0 ... \(CountBounds.max))")
            }
            lanes[k] = a
        }
        let alpha = TransitionCounts(lanes: lanes)
        for j in 0..<3 where !(alpha[0, j] + alpha[1, j] + alpha[2, j] > 0) {
            throw .range("alpha of id \(id) has an all-zero column \(j)")
        }
        var beliefs: [SIMD3<Double>] = []
        for (name, o) in [("pi", 0), ("pi_before", 12)] {
            let p = SIMD3(r[o], r[o + 1], r[o + 2])
            let sum = p[0] + p[1] + p[2]
            guard p[0] >= 0, p[1] >= 0, p[2] >= 0, sum.isFinite, abs(sum - 1) <= 1e-6 else {
                throw .range("\(name) of id \(id) is not a probability vector: (\(p[0]), \(p[1]), \(p[2]))")
            }
            beliefs.append(p / sum)
        }
        let t = r[15]
        guard t >= 0, t <= Double(UInt32.max), t.rounded() == t else {
            throw .range("sampled_times of id \(id) is \(t) (need an integer 0 ... 2^32 - 1)")
        }
        return (DPSPromptState(alpha: alpha, pi: beliefs[0], piBefore: beliefs[1]), UInt32(t))
    }

    public func metrics(_ scope: MetricScope) -> [Double] {
        switch scope {
        case .step:
            let u = lastUpdate
            return [Double(u.observed), u.accuracy, u.partialPrecision, u.partialRecall] + u.confusion.map { Double($0) }
        case .all:
            let s = summary()
            return [Double(s.prompts), s.meanEntropy, s.meanPartial, Double(s.sampledMin), Double(s.sampledMax),
                    s.sampledMean, s.sampledStd]
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
        for i in 0..<n {
            var v = loaded.entries[i].value
            (v.a0, v.a1, v.a2) = (try r.f64(), try r.f64(), try r.f64())
            (v.a3, v.a4, v.a5) = (try r.f64(), try r.f64(), try r.f64())
            (v.a6, v.a7, v.a8) = (try r.f64(), try r.f64(), try r.f64())
            loaded.entries[i].value = v
        }
        for i in 0..<n { (loaded.entries[i].value.p0, loaded.entries[i].value.p1, loaded.entries[i].value.p2) = (try r.f64(), try r.f64(), try r.f64()) }
        for i in 0..<n { (loaded.entries[i].value.b0, loaded.entries[i].value.b1, loaded.entries[i].value.b2) = (try r.f64(), try r.f64(), try r.f64()) }
        for i in 0..<n { loaded.entries[i].value.sampled = try r.u32() }
        for i in 0..<n { loaded.entries[i].value.lastStep = try r.u32() }
        for i in 0..<n { loaded.entries[i].value.exactLeft = try r.u32() }
        for e in loaded.entries {
            let v = e.value
            let s = v.state
            let row = [s.pi[0], s.pi[1], s.pi[2]] + (0..<9).map { s.alpha.v[$0] } + [s.piBefore[0], s.piBefore[1], s.piBefore[2], Double(v.sampled)]
            do { _ = try DPSModel.state(row: row, id: e.id) } catch {
                throw .corrupt("checkpoint holds an invalid DPS state: \(error.message)")
            }
            guard v.lastStep <= step, Int(v.exactLeft) <= settleSteps else {
                throw .corrupt("checkpoint holds invalid DPS bookkeeping for id \(e.id)")
            }
        }
        table = loaded
    }
}
