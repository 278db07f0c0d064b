import CPromptSel
import PromptSelCore

// String prompt ids: the same int64 in C and Python, in every process.

@c @implementation
public func promptsel_ids_from_strings(_ out_ids: UnsafeMutablePointer<Int64>?, _ out_cap: Int,
                                       _ bytes: UnsafePointer<UInt8>?, _ bytes_len: Int,
                                       _ offsets_: UnsafePointer<Int>?, _ n: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let count = try Arg.count(n, "n")
        guard bytes_len >= 0, bytes_len <= Arg.maxBytes else {
            throw PromptSelError(.invalidArgument, "bytes_len = \(UInt(bitPattern: bytes_len)) is too large "
                + "(at most \(Arg.maxBytes))")
        }
        if bytes_len > 0 && bytes == nil {
            throw PromptSelError(.invalidArgument, "bytes is NULL but bytes_len = \(bytes_len)")
        }
        try MemoryPreflight.probe(8 * count, "hashing \(count) string ids")
        let offsets = try Arg.offsets(offsets_, count)
        try StringIds.checkOffsets(offsets, total: bytes_len)
        guard let out = try Arg.output(out_ids, out_cap, needed: count, "out_ids") else { return }
        // Hashed in place: the caller's bytes are read during this call only.
        let data = UnsafeBufferPointer(start: bytes_len > 0 ? bytes : nil, count: bytes_len)
        for i in 0..<count { out[i] = StringIds.id(data[offsets[i]..<offsets[i + 1]]) }
    }
}
