import CPromptSel
import PromptSelCore

// Checkpoint exports: bytes in memory (for state_dict) and atomic files.

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

@c @implementation
public func promptsel_selector_deserialize(_ sel: OpaquePointer?, _ data: UnsafePointer<UInt8>?,
                                           _ len: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let bytes = try Arg.array(data, len, "data", "len")
        // Parsed completely before the swap: a corrupt input leaves `sel` unchanged.
        handle.replace(with: try PromptSelector.deserialize(bytes))
    }
}

@c @implementation
public func promptsel_selector_from_bytes(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                                         _ data: UnsafePointer<UInt8>?, _ len: Int) -> Int32 {
    bridge { () throws(PromptSelError) in
        let out = try Arg.pointer(out, "out")
        let bytes = try Arg.array(data, len, "data", "len")
        out.pointee = SelectorHandle(try PromptSelector.deserialize(bytes)).retainedPointer()
    }
}

@c @implementation
public func promptsel_selector_save(_ sel: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let handle = try SelectorHandle.from(sel)
        let file = try Arg.string(path, "path")
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
        let file = try Arg.string(path, "path")
        let selector: PromptSelector
        do throws(PromptSelError) {
            selector = try PromptSelector.deserialize(try AtomicFile.read(file))
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
        let file = try Arg.string(path, "path")
        let bytes = try Arg.array(data, len, "data", "len")
        try AtomicFile.write(bytes, to: file)
    }
}
