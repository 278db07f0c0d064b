import CPromptSel
import PromptSelCore

// Checkpoint exports: bytes in memory (for state_dict) and atomic files. Inputs are
// decoded as they are read, from the caller's memory or the file in bounded chunks:
// no whole copy of the input is made, so loading needs about the final state's memory.

@c @implementation
public func promptsel_selector_serialize(_ out: UnsafeMutablePointer<UInt8>?, _ out_cap: Int,
                                         _ out_len: UnsafeMutablePointer<Int>?,
                                         _ sel: OpaquePointer?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let outLen = try Arg.pointer(out_len, "out_len")
        let cap = try Arg.count(out_cap, "out_cap")
        let bytes = try SelectorHandle.from(sel).withLock { s throws(PromptSelError) -> [UInt8] in
            // Sized by a counting pass first: asking for the size builds nothing.
            let size = try checkpointSize(s)
            guard cap >= size else {
                outLen.pointee = size
                throw PromptSelError(.bufferTooSmall, "serialized state needs \(size) bytes, out_cap is \(cap)")
            }
            return try serialized(s, size: size)
        }
        try Arg.pointer(out, "out").store(bytes)
        outLen.pointee = bytes.count
    }
}

/// The exact checkpoint size of `s`, after making sure the encoders' own copies fit.
private func checkpointSize(_ s: PromptSelector) throws(PromptSelError) -> Int {
    try MemoryPreflight.probe(MemoryPreflight.serialize(s, size: 0), "serializing \(s.count) prompts")
    return s.serializedSize()
}

/// The checkpoint of `s`, `size` bytes (from `checkpointSize`), or NO_MEMORY.
private func serialized(_ s: PromptSelector, size: Int) throws(PromptSelError) -> [UInt8] {
    try MemoryPreflight.probe(MemoryPreflight.serialize(s, size: size),
                              "a checkpoint of \(size) bytes (\(s.info.name), \(s.count) prompts)")
    return s.serialized(size: size)
}

/// Decodes `len` bytes at `data` without copying them whole first.
private func decode(_ data: UnsafePointer<UInt8>?, _ len: Int) throws(PromptSelError) -> PromptSelector {
    let n = try Arg.count(len, "len")
    guard n == 0 || data != nil else { throw PromptSelError(.invalidArgument, "data is NULL but len = \(n)") }
    let header = data.map { Array(UnsafeBufferPointer(start: $0, count: min(n, 24))) } ?? []
    try MemoryPreflight.probe(MemoryPreflight.load(size: n, header: header),
                              "restoring a checkpoint of \(n) bytes")
    var next = 0
    var reader = ByteReader(count: n) { buffer, range throws(PromptSelError) in
        let k = min(range.count, n - next)
        if k > 0, let data {
            buffer.withUnsafeMutableBufferPointer { dst in
                (dst.baseAddress! + range.lowerBound).update(from: data + next, count: k)
            }
        }
        next += k
        return k
    }
    return try PromptSelector.deserialize(&reader, count: n, memoryLimit: AtomicFile.physicalMemory)
}

@c @implementation
public func promptsel_selector_deserialize(_ sel: OpaquePointer?, _ data: UnsafePointer<UInt8>?,
                                           _ len: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        // Decoded completely before the swap: a corrupt input leaves `sel` unchanged.
        handle.replace(with: try decode(data, len))
    }
}

@c @implementation
public func promptsel_selector_from_bytes(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                                         _ data: UnsafePointer<UInt8>?, _ len: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        out.pointee = SelectorHandle(try decode(data, len)).retainedPointer()
    }
}

@c @implementation
public func promptsel_selector_save(_ sel: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let file = try Arg.path(path)
        // Serialize under the lock, write outside it: slow disks don't block select.
        let bytes = try handle.withLock { s throws(PromptSelError) in try serialized(s, size: try checkpointSize(s)) }
        try AtomicFile.write(bytes, to: file)
    }
}

@c @implementation
public func promptsel_selector_load(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                                    _ path: UnsafePointer<CChar>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let file = try Arg.path(path)
        let selector: PromptSelector
        do throws(PromptSelError) {
            let input = try AtomicFile.Reader(file)
            try MemoryPreflight.probe(MemoryPreflight.load(size: input.size, header: input.header),
                                      "loading a checkpoint of \(input.size) bytes")
            var reader = ByteReader(count: input.size, source: input.source)
            selector = try PromptSelector.deserialize(&reader, count: input.size, memoryLimit: AtomicFile.physicalMemory)
        } catch {
            throw PromptSelError(error.status, "\(file): \(error.message)")
        }
        out.pointee = SelectorHandle(selector).retainedPointer()
    }
}

@c @implementation
public func promptsel_file_write_atomic(_ path: UnsafePointer<CChar>?, _ data: UnsafePointer<UInt8>?,
                                        _ len: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let file = try Arg.path(path)
        try MemoryPreflight.probe(try Arg.count(len, "len"), "writing \(len) bytes")
        let bytes = try Arg.array(data, len, "data", "len")
        try AtomicFile.write(bytes, to: file)
    }
}
