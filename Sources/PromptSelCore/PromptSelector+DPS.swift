/// DPS queries and state import/export.
extension PromptSelector {
    /// Belief over (unsolved, partial, solved) at the next step, per id; the prior
    /// belief for unseen ids.
    public func stateProbs(_ ids: [Int64]) throws(PromptSelError) -> [SIMD3<Double>] {
        try dpsModel("state_probs").current(ids).map(\.pi)
    }

    /// Full state of each id at the current step (the prior for unseen ids), with its
    /// times-selected count.
    public func dpsStates(_ ids: [Int64]) throws(PromptSelError) -> [(state: DPSPromptState, sampled: UInt32)] {
        let m = try dpsModel("dps_get_state")
        let states = m.current(ids)
        let indices = m.table.resolve(ids, inserting: nil)
        return zip(states, indices).map { ($0, $1 < 0 ? 0 : m.table.entries[$1].value.sampled) }
    }

    /// Sets the state of each id (imports the reference's `hmm_params.json`). Counts
    /// must be finite, >= 0 with positive column sums; beliefs finite, >= 0, summing
    /// to 1 within 1e-6 (they are renormalised).
    public func setDPSStates(ids: [Int64], states: [DPSPromptState], sampled: [Int64]) throws(PromptSelError) {
        let m = try dpsModel("dps_set_state")
        guard states.count == ids.count, sampled.count == ids.count else {
            throw .invalid("ids, states and sampled_times must have the same length")
        }
        var clean = states
        for i in 0..<ids.count {
            let a = states[i].alpha
            for k in 0..<9 where !(a.v[k].isFinite && a.v[k] >= 0 && a.v[k] <= SelectorConfig.maxCount) {
                throw .range("alpha of id \(ids[i]) has an invalid count \(a.v[k]) (need 0 ... \(SelectorConfig.maxCount))")
            }
            for j in 0..<3 where !(a[0, j] + a[1, j] + a[2, j] > 0) {
                throw .range("alpha of id \(ids[i]) has an all-zero column \(j)")
            }
            for (name, p) in [("pi", states[i].pi), ("pi_before", states[i].piBefore)] {
                let sum = p[0] + p[1] + p[2]
                guard p[0] >= 0, p[1] >= 0, p[2] >= 0, sum.isFinite, abs(sum - 1) <= 1e-6 else {
                    throw .range("\(name) of id \(ids[i]) is not a probability vector: (\(p[0]), \(p[1]), \(p[2]))")
                }
            }
            clean[i].pi = states[i].pi / (states[i].pi[0] + states[i].pi[1] + states[i].pi[2])
            clean[i].piBefore = states[i].piBefore / (states[i].piBefore[0] + states[i].piBefore[1] + states[i].piBefore[2])
            guard sampled[i] >= 0, sampled[i] <= Int64(UInt32.max) else {
                throw .range("sampled_times of id \(ids[i]) is \(sampled[i]) (need 0 ... 2^32 - 1)")
            }
        }
        try ensureRoom(for: ids.count)
        m.set(ids: ids, states: clean, sampled: sampled.map { UInt32($0) })
    }

    /// Prediction quality of the last update call.
    public func dpsUpdateStats() throws(PromptSelError) -> DPSUpdateStats {
        try dpsModel("dps_update_stats").lastUpdate
    }

    /// Statistics over every tracked prompt (O(#prompts)).
    public func dpsSummary() throws(PromptSelError) -> DPSSummary {
        try dpsModel("dps_summary").summary()
    }
}
