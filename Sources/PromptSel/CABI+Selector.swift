import CPromptSel
import PromptSelCore

// Selector lifetime, the per-step calls and queries. Each export: validate raw
// arguments, copy inputs, lock the handle, call the core, copy outputs; all
// inside `bridge`, so failures become status codes and leave state unchanged.

@c @implementation
public func promptsel_config_init(_ out: UnsafeMutablePointer<promptsel_config>?, _ method: Int32) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        guard let m = SelectionMethod(rawValue: method) else {
            if method == PROMPTSEL_METHOD_GPS {
                throw PromptSelError(.unsupported, "method GPS (\(method)) is not available in this version")
            }
            throw PromptSelError(.invalidArgument, "unknown method \(method)")
        }
        out.pointee = SelectorConfig(method: m).c
    }
}

@c @implementation
public func promptsel_selector_create(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                                      _ config: UnsafePointer<promptsel_config>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        guard let config else { throw PromptSelError(.invalidArgument, "config is NULL") }
        let selector = try PromptSelector(config: try SelectorConfig(c: config.pointee))
        out.pointee = SelectorHandle(selector).retainedPointer()
    }
}

@c @implementation
public func promptsel_selector_free(_ sel: OpaquePointer?) {
    guard let sel else { return }
    SelectorHandle.release(sel)
}

@c @implementation
public func promptsel_selector_get_config(_ out: UnsafeMutablePointer<promptsel_config>?,
                                          _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let config = try SelectorHandle.from(sel).withLock { $0.config }
        out.pointee = config.c
    }
}

@c @implementation
public func promptsel_selector_count(_ out: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        out.pointee = try SelectorHandle.from(sel).withLock { $0.count }
    }
}

@c @implementation
public func promptsel_selector_memory(_ out_bytes: UnsafeMutablePointer<Int>?,
                                      _ out_entry_bytes: UnsafeMutablePointer<Int>?,
                                      _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let (bytes, entry) = try SelectorHandle.from(sel).withLock { ($0.allocatedBytes, $0.entryBytes) }
        out_bytes?.pointee = bytes
        out_entry_bytes?.pointee = entry
    }
}

@c @implementation
public func promptsel_selector_ids(_ out: UnsafeMutablePointer<Int64>?, _ out_cap: Int,
                                   _ out_len: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let outLen = try Arg.pointer(out_len, "out_len")
        let ids = try SelectorHandle.from(sel).withLock { $0.ids }
        if try Arg.count(out_cap, "out_cap") < ids.count { outLen.pointee = ids.count }
        try Arg.output(out, out_cap, needed: ids.count, "out")?.store(ids)
        outLen.pointee = ids.count
    }
}

@c @implementation
public func promptsel_selector_select(_ out_positions: UnsafeMutablePointer<Int64>?,
                                      _ out_scores: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                      _ out_count: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?,
                                      _ candidate_ids: UnsafePointer<Int64>?, _ n: Int,
                                      _ batch_size: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let outCount = try Arg.pointer(out_count, "out_count")
        let candidates = try Arg.array(candidate_ids, n, "candidate_ids")
        let batch = try Arg.count(batch_size, "batch_size")
        try PromptSelector.validateBatch(poolSize: candidates.count, batchSize: batch)
        // Checked before selecting: a failure must not advance the generator.
        let positions = try Arg.output(out_positions, out_cap, needed: batch, "out_positions")
        let chosen = try handle.withLock { s throws(PromptSelError) in
            try s.select(candidates: candidates, batchSize: batch)
        }
        positions?.store(chosen.positions.map { Int64($0) })
        out_scores?.store(chosen.scores)
        outCount.pointee = chosen.positions.count
    }
}

@c @implementation
public func promptsel_selector_update(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                      _ success_rate: UnsafePointer<Double>?,
                                      _ rollouts: UnsafePointer<Int32>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let rates = try Arg.array(success_rate, n, "success_rate")
        let ks = try Arg.array(rollouts, n, "rollouts")
        try handle.withLock { s throws(PromptSelError) in
            try s.update(ids: idList, rates: rates, rollouts: ks)
        }
    }
}

@c @implementation
public func promptsel_selector_predict(_ out_mean: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                       _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                       _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let out = try Arg.output(out_mean, out_cap, needed: idList.count, "out_mean")
        let mean = try handle.withLock { $0.predict(idList) }
        out?.store(mean)
    }
}

@c @implementation
public func promptsel_selector_posterior(_ out_alpha: UnsafeMutablePointer<Double>?,
                                         _ out_beta: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                         _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                         _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        try Arg.capacity(out_cap, needed: idList.count)
        let p = try handle.withLock { s throws(PromptSelError) in try s.posterior(idList) }
        out_alpha?.store(p.alpha)
        out_beta?.store(p.beta)
    }
}

@c @implementation
public func promptsel_selector_warm_start(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                          _ successes: UnsafePointer<Double>?,
                                          _ trials: UnsafePointer<Double>?, _ n: Int,
                                          _ weight: Double) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let s = try Arg.array(successes, n, "successes")
        let t = try Arg.array(trials, n, "trials")
        try handle.withLock { sel throws(PromptSelError) in
            try sel.warmStart(ids: idList, successes: s, trials: t, weight: weight)
        }
    }
}

@c @implementation
public func promptsel_selector_set_posterior(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                             _ alpha: UnsafePointer<Double>?,
                                             _ beta: UnsafePointer<Double>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let idList = try Arg.array(ids, n, "ids")
        let a = try Arg.array(alpha, n, "alpha")
        let b = try Arg.array(beta, n, "beta")
        try handle.withLock { s throws(PromptSelError) in try s.setPosterior(ids: idList, alpha: a, beta: b) }
    }
}
