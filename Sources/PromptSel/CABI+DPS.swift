import CPromptSel
import PromptSelCore

// DPS-specific exports: beliefs, full state import/export, diagnostics.

@c @implementation
public func promptsel_selector_state_probs(_ out: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                           _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                           _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let dst = try Arg.output(out, out_cap, needed: 3 * idList.count, "out")
        let probs = try handle.withLock { s throws(PromptSelError) in try s.stateProbs(idList) }
        dst?.store(probs.flatMap { [$0[0], $0[1], $0[2]] })
    }
}

@c @implementation
public func promptsel_dps_update_stats_get(_ out: UnsafeMutablePointer<promptsel_dps_update_stats>?,
                                           _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let s = try SelectorHandle.from(sel).withLock { s throws(PromptSelError) in try s.dpsUpdateStats() }
        var c = promptsel_dps_update_stats()
        c.observed = s.observed
        withUnsafeMutableBytes(of: &c.confusion) { raw in
            let dst = raw.bindMemory(to: UInt64.self)
            for k in 0..<9 { dst[k] = s.confusion[k] }
        }
        c.accuracy = s.accuracy
        c.partial_precision = s.partialPrecision
        c.partial_recall = s.partialRecall
        out.pointee = c
    }
}

@c @implementation
public func promptsel_dps_summary_get(_ out: UnsafeMutablePointer<promptsel_dps_summary>?,
                                      _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let s = try SelectorHandle.from(sel).withLock { s throws(PromptSelError) in try s.dpsSummary() }
        out.pointee = promptsel_dps_summary(
            prompts: s.prompts, mean_entropy: s.meanEntropy, mean_partial: s.meanPartial,
            sampled_min: s.sampledMin, sampled_max: s.sampledMax, sampled_mean: s.sampledMean,
            sampled_std: s.sampledStd)
    }
}

@c @implementation
public func promptsel_dps_get_state(_ out_alpha: UnsafeMutablePointer<Double>?,
                                    _ out_pi: UnsafeMutablePointer<Double>?,
                                    _ out_pi_before: UnsafeMutablePointer<Double>?,
                                    _ out_sampled: UnsafeMutablePointer<Int64>?, _ out_cap: Int,
                                    _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                    _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        try Arg.capacity(out_cap, needed: idList.count)
        let states = try handle.withLock { s throws(PromptSelError) in try s.dpsStates(idList) }
        out_alpha?.store(states.flatMap { st in (0..<9).map { st.state.alpha.v[$0] } })
        out_pi?.store(states.flatMap { [$0.state.pi[0], $0.state.pi[1], $0.state.pi[2]] })
        out_pi_before?.store(states.flatMap { [$0.state.piBefore[0], $0.state.piBefore[1], $0.state.piBefore[2]] })
        out_sampled?.store(states.map { Int64($0.sampled) })
    }
}

@c @implementation
public func promptsel_dps_set_state(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                    _ alpha: UnsafePointer<Double>?, _ pi: UnsafePointer<Double>?,
                                    _ pi_before: UnsafePointer<Double>?,
                                    _ sampled: UnsafePointer<Int64>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let count = idList.count
        let a = try Arg.array(alpha, 9 * count, "alpha")
        let p = try Arg.array(pi, 3 * count, "pi")
        let b = try Arg.array(pi_before, 3 * count, "pi_before")
        let t = try Arg.array(sampled, count, "sampled")
        let states = (0..<count).map { i -> DPSPromptState in
            var lanes = SIMD16<Double>.zero
            for k in 0..<9 { lanes[k] = a[9 * i + k] }
            return DPSPromptState(alpha: TransitionCounts(lanes: lanes),
                                  pi: SIMD3(p[3 * i], p[3 * i + 1], p[3 * i + 2]),
                                  piBefore: SIMD3(b[3 * i], b[3 * i + 1], b[3 * i + 2]))
        }
        try handle.withLock { s throws(PromptSelError) in try s.setDPSStates(ids: idList, states: states, sampled: t) }
    }
}
