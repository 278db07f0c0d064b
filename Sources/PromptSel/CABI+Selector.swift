import CPromptSel
import PromptSelCore

// Selector lifetime, the per-step calls and queries. Each export: validate raw
// arguments, copy inputs, lock the handle, call the core, copy outputs; all
// inside `bridge`, so failures become status codes and leave state unchanged.

@c @implementation
public func promptsel_selector_create(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                                      _ method: UnsafePointer<CChar>?,
                                      _ params: UnsafePointer<CChar>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let name = try Arg.string(method, "method")
        let text = try Arg.string(params, "params", optional: true)
        let type = try MethodRegistry.model(named: name)
        let parameters = try Parameters(specs: type.info.parameters, text: text, method: name)
        try MemoryPreflight.probe(MemoryPreflight.create(parameters), "creating a \(name) selector")
        out.pointee = SelectorHandle(try PromptSelector(type, parameters)).retainedPointer()
    }
}

@c @implementation
public func promptsel_selector_free(_ sel: OpaquePointer?) {
    guard let sel else { return }
    SelectorHandle.release(sel)
}

@c @implementation
public func promptsel_selector_method(_ sel: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let handle = try? SelectorHandle.from(sel), let name = try? handle.withLock({ $0.info.name }) else {
        return nil
    }
    return MethodNames.cString(name)
}

@c @implementation
public func promptsel_selector_params(_ out: UnsafeMutablePointer<CChar>?, _ out_cap: Int,
                                      _ out_len: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let text = try SelectorHandle.from(sel).withLock { $0.parameters.text }
        try Arg.text(text, out, out_cap, out_len)
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
        let handle = try SelectorHandle.from(sel)
        try handle.preflight("listing the ids") { s, _ in 8 * s.count }
        let ids = try handle.withLock { $0.ids }
        if try Arg.count(out_cap, "out_cap") < ids.count { outLen.pointee = ids.count }
        try Arg.output(out, out_cap, needed: ids.count, "out")?.store(ids)
        outLen.pointee = ids.count
    }
}

@c @implementation
public func promptsel_selector_state_width(_ out: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        out.pointee = try SelectorHandle.from(sel).withLock { $0.info.state.count }
    }
}

@c @implementation
public func promptsel_selector_select(_ out_positions: UnsafeMutablePointer<Int64>?,
                                      _ out_scores: UnsafeMutablePointer<Double>?,
                                      _ out_state: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                      _ out_count: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?,
                                      _ candidate_ids: UnsafePointer<Int64>?, _ n: Int,
                                      _ batch_size: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let outCount = try Arg.pointer(out_count, "out_count")
        let count = try Arg.count(n, "n")
        let batch = try Arg.count(batch_size, "batch_size")
        try handle.preflight("select of \(count) candidates") { s, precise in
            MemoryPreflight.select(s, candidate_ids, n: count, batch: min(batch, count), precise: precise)
        }
        let candidates = try Arg.array(candidate_ids, n, "candidate_ids")
        try PromptSelector.validateBatch(poolSize: candidates.count, batchSize: batch)
        // Checked before selecting: a failure must not advance the generator.
        let positions = try Arg.output(out_positions, out_cap, needed: batch, "out_positions")
        let chosen = try handle.withLock { s throws(PromptSelError) in
            try s.select(candidates: candidates, batchSize: batch, withState: out_state != nil)
        }
        positions?.store(chosen.selection.positions.map { Int64($0) })
        out_scores?.store(chosen.selection.scores)
        out_state?.store(chosen.state)
        outCount.pointee = chosen.selection.positions.count
    }
}

@c @implementation
public func promptsel_selector_update(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                      _ success_rate: UnsafePointer<Double>?,
                                      _ rollouts: UnsafePointer<Int32>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let count = try Arg.count(n, "n")
        try handle.preflight("update of \(count) ids") { s, precise in
            MemoryPreflight.update(s, ids, n: count, precise: precise)
        }
        let idList = try Arg.array(ids, n, "ids")
        let rates = try Arg.array(success_rate, n, "success_rate")
        let ks = try Arg.array(rollouts, n, "rollouts")
        try handle.withLock { s throws(PromptSelError) in
            try s.update(ids: idList, rates: rates, rollouts: ks)
        }
    }
}

@c @implementation
public func promptsel_selector_shuffle(_ sel: OpaquePointer?, _ values: UnsafeMutablePointer<Int64>?,
                                       _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        try MemoryPreflight.probe(8 * (try Arg.count(n, "n")), "shuffle of \(n) values")
        var list = try Arg.array(UnsafePointer(values), n, "values")
        guard let values, !list.isEmpty else { return }
        try handle.withLock { s throws(PromptSelError) in s.shuffle(&list) }
        values.store(list)
    }
}

@c @implementation
public func promptsel_selector_predict(_ out_mean: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                       _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                       _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        try MemoryPreflight.probe(MemoryPreflight.read(n: try Arg.count(n, "n"), perId: 64), "predict of \(n) ids")
        let idList = try Arg.array(ids, n, "ids")
        let out = try Arg.output(out_mean, out_cap, needed: idList.count, "out_mean")
        let mean = try handle.withLock { s throws(PromptSelError) in try s.predict(idList) }
        out?.store(mean)
    }
}

@c @implementation
public func promptsel_selector_get_state(_ out: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                         _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                         _ n: Int, _ first_column: Int, _ n_columns: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let first = try Arg.count(first_column, "first_column")
        let width = try Arg.count(n_columns, "n_columns")
        // Rows grown by appending may double: 3x the output at most.
        try MemoryPreflight.probe(MemoryPreflight.read(n: try Arg.count(n, "n"), perId: 64 + 24 * min(width, 64)),
                                  "reading the state of \(n) ids")
        let idList = try Arg.array(ids, n, "ids")
        let rows = try handle.withLock { s throws(PromptSelError) -> [Double] in
            guard first + width <= s.info.state.count else {
                throw PromptSelError(.invalidArgument, "columns \(first)..<\(first + width) are outside the "
                    + "\(s.info.state.count) state columns of \(s.info.name)")
            }
            // Checked before reading: a read may bring stored state forward.
            _ = try Arg.output(out, out_cap, needed: width * idList.count, "out")
            return try s.state(idList, columns: first..<(first + width))
        }
        out?.store(rows)
    }
}

@c @implementation
public func promptsel_selector_prior(_ out: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                     _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let row = try handle.withLock { s throws(PromptSelError) -> [Double] in
            _ = try Arg.output(out, out_cap, needed: s.info.state.count, "out")
            return s.priorRow
        }
        out?.store(row)
    }
}

@c @implementation
public func promptsel_selector_metrics(_ out: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                       _ out_len: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?,
                                       _ scope: Int32) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let outLen = try Arg.pointer(out_len, "out_len")
        guard let scope = MetricScope(rawValue: scope) else {
            throw PromptSelError(.invalidArgument, "unknown metrics scope \(scope) (PROMPTSEL_METRICS_STEP or _ALL)")
        }
        let cap = try Arg.count(out_cap, "out_cap")
        let values = try handle.withLock { s throws(PromptSelError) -> [Double] in
            let needed = s.info.metrics(scope).count
            guard cap >= needed else {
                outLen.pointee = needed
                throw PromptSelError(.bufferTooSmall, "metrics need \(needed) values, out_cap is \(cap)")
            }
            return s.metrics(scope)
        }
        if !values.isEmpty { try Arg.pointer(out, "out").store(values) }
        outLen.pointee = values.count
    }
}

@c @implementation
public func promptsel_selector_set_state(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                         _ values: UnsafePointer<Double>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let count = try Arg.count(n, "n")
        try handle.preflight("set_state of \(count) ids") { s, precise in
            MemoryPreflight.importRows(s, ids, n: count, valuesPerId: s.info.state.count, precise: precise)
        }
        let idList = try Arg.array(ids, n, "ids")
        try handle.withLock { s throws(PromptSelError) in
            let width = s.info.state.count
            let rows = try Arg.array(values, width * idList.count, "values")
            try s.setState(ids: idList, rows: rows)
        }
    }
}

@c @implementation
public func promptsel_selector_warm_start(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                          _ successes: UnsafePointer<Double>?,
                                          _ trials: UnsafePointer<Double>?, _ n: Int,
                                          _ weight: Double) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let count = try Arg.count(n, "n")
        try handle.preflight("warm_start of \(count) ids") { s, precise in
            MemoryPreflight.importRows(s, ids, n: count, valuesPerId: 2, precise: precise)
        }
        let idList = try Arg.array(ids, n, "ids")
        let s = try Arg.array(successes, n, "successes")
        let t = try Arg.array(trials, n, "trials")
        try handle.withLock { sel throws(PromptSelError) in
            try sel.warmStart(ids: idList, successes: s, trials: t, weight: weight)
        }
    }
}
