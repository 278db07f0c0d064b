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
        let bytes = try SelectorHandle.from(sel).withLock { $0.serialized() }
        guard cap >= bytes.count else {
            outLen.pointee = bytes.count
            throw PromptSelError(.bufferTooSmall, "serialized state needs \(bytes.count) bytes, out_cap is \(cap)")
        }
        try Arg.pointer(out, "out").store(bytes)
        outLen.pointee = bytes.count
    }
}

/// Decodes `len` bytes at `data` without copying them whole first.
private func decode(_ data: UnsafePointer<UInt8>?, _ len: Int) throws(PromptSelError) -> PromptSelector {
    let n = try Arg.count(len, "len")
    guard n == 0 || data != nil else { throw PromptSelError(.invalidArgument, "data is NULL but len = \(n)") }
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
        let bytes = try handle.withLock { $0.serialized() }
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
        let bytes = try Arg.array(data, len, "data", "len")
        try AtomicFile.write(bytes, to: file)
    }
}
