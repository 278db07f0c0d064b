import CPromptSel
import PromptSelCore

// Built-in featurisation (feature hashing), so C users have what Python has.

/// CSR offsets from C: n + 1 sizes from 0, nondecreasing; the last is the data length.
private func offsets(_ p: UnsafePointer<Int>?, _ n: Int) throws(PromptSelError) -> [Int] {
    guard n < Arg.maxCount else { throw PromptSelError(.invalidArgument, "n = \(n) is too large") }
    let list = try Arg.array(p, n + 1, "offsets")
    for v in list where v < 0 || v > Arg.maxCount * 64 {
        throw PromptSelError(.invalidArgument, "offsets hold \(UInt(bitPattern: v)), which is no size")
    }
    try Featurize.checkOffsets(list, total: list[n])
    return list
}

@c @implementation
public func promptsel_featurize_text(_ out: UnsafeMutablePointer<Float>?, _ out_cap: Int,
                                     _ text: UnsafePointer<CChar>?, _ offsets_: UnsafePointer<Int>?,
                                     _ n: Int, _ dim: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let count = try Arg.count(n, "n")
        try Featurize.checkDim(dim)
        let o = try offsets(offsets_, count)
        let total = o[count]
        let bytes = try Arg.array(text.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) }, total, "text",
                                  "offsets[n]")
        let needed = count.multipliedReportingOverflow(by: dim)
        guard !needed.overflow else { throw PromptSelError(.invalidArgument, "n * dim overflows") }
        let dst = try Arg.output(out, out_cap, needed: needed.partialValue, "out")
        for i in 0..<count {
            (dst! + i * dim).update(from: Featurize.text(bytes[o[i]..<o[i + 1]], dim: dim), count: dim)
        }
    }
}

@c @implementation
public func promptsel_featurize_tokens(_ out: UnsafeMutablePointer<Float>?, _ out_cap: Int,
                                       _ tokens: UnsafePointer<Int64>?, _ offsets_: UnsafePointer<Int>?,
                                       _ n: Int, _ dim: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let count = try Arg.count(n, "n")
        try Featurize.checkDim(dim)
        let o = try offsets(offsets_, count)
        let ids = try Arg.array(tokens, o[count], "tokens", "offsets[n]")
        let needed = count.multipliedReportingOverflow(by: dim)
        guard !needed.overflow else { throw PromptSelError(.invalidArgument, "n * dim overflows") }
        let dst = try Arg.output(out, out_cap, needed: needed.partialValue, "out")
        for i in 0..<count {
            (dst! + i * dim).update(from: Featurize.tokens(ids[o[i]..<o[i + 1]], dim: dim), count: dim)
        }
    }
}
