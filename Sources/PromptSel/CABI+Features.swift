import CPromptSel
import PromptSelCore

// Built-in featurisation (feature hashing), so C users have what Python has.

/// CSR offsets from C: n + 1 sizes from 0, nondecreasing; the last is the data length.
private func offsets(_ p: UnsafePointer<Int>?, _ n: Int) throws(PromptSelError) -> [Int] {
    let list = try Arg.offsets(p, n)
    try Featurize.checkOffsets(list, total: list[n])
    return list
}

/// Rows of `dim` features into `out`, one per CSR range: `row(lo..<hi)` computes each.
private func featurize(_ out: UnsafeMutablePointer<Float>?, _ out_cap: Int, _ offsets_: UnsafePointer<Int>?,
                       _ n: Int, _ dim: Int,
                       _ rows: (Int) throws(PromptSelError) -> (Range<Int>) -> [Float]) throws(PromptSelError) {
    let count = try Arg.count(n, "n")
    try Featurize.checkDim(dim)
    try MemoryPreflight.probe(16 * count, "featurizing \(count) texts")
    let o = try offsets(offsets_, count)
    let row = try rows(o[count])
    let needed = count.multipliedReportingOverflow(by: dim)
    guard !needed.overflow else { throw PromptSelError(.invalidArgument, "n * dim overflows") }
    guard let dst = try Arg.output(out, out_cap, needed: needed.partialValue, "out") else { return }
    for i in 0..<count { (dst + i * dim).update(from: row(o[i]..<o[i + 1]), count: dim) }
}

@c @implementation
public func promptsel_featurize_text(_ out: UnsafeMutablePointer<Float>?, _ out_cap: Int,
                                     _ text: UnsafePointer<CChar>?, _ offsets_: UnsafePointer<Int>?,
                                     _ n: Int, _ dim: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        try featurize(out, out_cap, offsets_, n, dim) { (total) throws(PromptSelError) in
            // The copy, and each text's word hashes (at most one per byte) and row.
            try MemoryPreflight.probe(9 * total + 4 * dim, "featurizing \(total) bytes of text")
            let bytes = try Arg.array(text.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) }, total,
                                      "text", "offsets[n]")
            return { Featurize.text(bytes[$0], dim: dim) }
        }
    }
}

@c @implementation
public func promptsel_featurize_tokens(_ out: UnsafeMutablePointer<Float>?, _ out_cap: Int,
                                       _ tokens: UnsafePointer<Int64>?, _ offsets_: UnsafePointer<Int>?,
                                       _ n: Int, _ dim: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        try featurize(out, out_cap, offsets_, n, dim) { (total) throws(PromptSelError) in
            try MemoryPreflight.probe(16 * total + 4 * dim, "featurizing \(total) tokens")
            let ids = try Arg.array(tokens, total, "tokens", "offsets[n]")
            return { Featurize.tokens(ids[$0], dim: dim) }
        }
    }
}

@c @implementation
public func promptsel_selector_set_features(_ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                            _ features: UnsafePointer<Float>?, _ n: Int, _ dim: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let count = try Arg.count(n, "n")
        let d = try Arg.count(dim, "dim")
        try handle.preflight("set_features of \(count) rows") { s, precise in
            MemoryPreflight.setFeatures(s, ids, n: count, dim: d, precise: precise)
        }
        let idList = try Arg.array(ids, n, "ids")
        try handle.withLock { s throws(PromptSelError) in
            guard s.model.featureDim > 0 else { return try s.setFeatures(ids: idList, rows: [Float]()) }
            guard d == s.model.featureDim else {
                throw PromptSelError(.invalidArgument, "dim is \(d) but this selector's features have \(s.model.featureDim)")
            }
            let count = idList.count.multipliedReportingOverflow(by: d)
            guard !count.overflow else { throw PromptSelError(.invalidArgument, "n * dim overflows") }
            // Read in place: the matrix may be gigabytes, and a copy would double it.
            try s.setFeatures(ids: idList, rows: try Arg.buffer(features, count.partialValue, "features"))
        }
    }
}

@c @implementation
public func promptsel_selector_feature_dim(_ out: UnsafeMutablePointer<Int>?, _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        out.pointee = try SelectorHandle.from(sel).withLock { $0.model.featureDim }
    }
}

@c @implementation
public func promptsel_selector_predict_std(_ out_std: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                           _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
                                           _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        try MemoryPreflight.probe(MemoryPreflight.read(n: try Arg.count(n, "n"), perId: 80), "predict_std of \(n) ids")
        let idList = try Arg.array(ids, n, "ids")
        let out = try Arg.output(out_std, out_cap, needed: idList.count, "out_std")
        let std = try handle.withLock { s throws(PromptSelError) in try s.uncertainty(idList) }
        out?.store(std)
    }
}

@c @implementation
public func promptsel_selector_allocate(_ out_counts: UnsafeMutablePointer<Int64>?,
                                        _ out_mean: UnsafeMutablePointer<Double>?, _ out_cap: Int,
                                        _ sel: OpaquePointer?, _ ids: UnsafePointer<Int64>?, _ n: Int,
                                        _ budget: Int, _ min_per: Int, _ max_per: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        // Copies, the predictive Betas, counts, gains, means and their outputs.
        try MemoryPreflight.probe(MemoryPreflight.read(n: try Arg.count(n, "n"), perId: 160), "allocate over \(n) ids")
        let idList = try Arg.array(ids, n, "ids")
        let total = try Arg.count(budget, "budget")
        let lo = try Arg.count(min_per, "min_per")
        let hi = try Arg.count(max_per, "max_per")
        let out = try Arg.output(out_counts, out_cap, needed: idList.count, "out_counts")
        // Only the predictive Betas need the selector: the allocation runs unlocked.
        let beta = try handle.withLock { s throws(PromptSelError) in try s.predictiveBeta(idList) }
        let counts = try Acquisition.allocate(beta, budget: total, minPer: lo, maxPer: hi)
        out?.store(counts.map { Int64($0) })
        out_mean?.store(beta.map { $0.alpha / ($0.alpha + $0.beta) })
    }
}
