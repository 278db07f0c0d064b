import PromptSelCore

/// Validation of raw C arguments. `size_t` imports as `Int`, so a negative number
/// here is a huge unsigned size from C (or -1 wrapped by ctypes); it is rejected
/// before any allocation or pointer arithmetic.
enum Arg {
    /// Largest element count accepted from C for any array.
    static let maxCount = maxPrompts

    static func count(_ n: Int, _ name: String) throws(PromptSelError) -> Int {
        guard n >= 0, n <= maxCount else {
            throw PromptSelError(.invalidArgument, "\(name) = \(UInt(bitPattern: n)) is too large (at most \(maxCount))")
        }
        return n
    }

    /// Copies `n` elements from a caller array; NULL is allowed only when n == 0.
    static func array<T>(_ p: UnsafePointer<T>?, _ n: Int, _ name: String, _ countName: String = "n") throws(PromptSelError) -> [T] {
        let n = try count(n, countName)
        if n == 0 { return [] }
        guard let p else { throw PromptSelError(.invalidArgument, "\(name) is NULL but \(countName) = \(n)") }
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    /// A caller array read in place (valid for the call only); NULL is allowed only when n == 0.
    static func buffer<T>(_ p: UnsafePointer<T>?, _ n: Int, _ name: String, _ countName: String = "n") throws(PromptSelError) -> UnsafeBufferPointer<T> {
        let n = try count(n, countName)
        if n == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
        guard let p else { throw PromptSelError(.invalidArgument, "\(name) is NULL but \(countName) = \(n)") }
        return UnsafeBufferPointer(start: p, count: n)
    }

    /// Largest byte length accepted from C for the data of CSR offsets.
    static let maxBytes = maxCount * 64

    /// CSR offsets from C: n + 1 byte positions, none a wrapped negative or beyond
    /// `maxBytes` (their order and end are the caller's to check).
    static func offsets(_ p: UnsafePointer<Int>?, _ n: Int) throws(PromptSelError) -> [Int] {
        guard n >= 0, n < maxCount else {
            throw PromptSelError(.invalidArgument, "n = \(UInt(bitPattern: n)) is too large (at most \(maxCount - 1))")
        }
        let list = try array(p, n + 1, "offsets")
        for v in list where v < 0 || v > maxBytes {
            throw PromptSelError(.invalidArgument, "offsets hold \(UInt(bitPattern: v)), which is no size")
        }
        return list
    }

    static func pointer<T>(_ p: UnsafeMutablePointer<T>?, _ name: String) throws(PromptSelError) -> UnsafeMutablePointer<T> {
        guard let p else { throw PromptSelError(.invalidArgument, "\(name) is NULL") }
        return p
    }

    /// Checks an output array of capacity `cap` can hold `needed` elements.
    static func output<T>(_ p: UnsafeMutablePointer<T>?, _ cap: Int, needed: Int, _ name: String) throws(PromptSelError) -> UnsafeMutablePointer<T>? {
        let cap = try count(cap, "out_cap")
        guard cap >= needed else {
            throw PromptSelError(.bufferTooSmall, "\(name) has capacity \(cap) but \(needed) values are needed")
        }
        if needed > 0 && p == nil { throw PromptSelError(.invalidArgument, "\(name) is NULL") }
        return p
    }

    /// Checks that outputs sharing one capacity `cap` (any of them may be NULL) can
    /// hold `needed` elements.
    static func capacity(_ cap: Int, needed: Int) throws(PromptSelError) {
        let cap = try count(cap, "out_cap")
        guard cap >= needed else {
            throw PromptSelError(.bufferTooSmall, "outputs have capacity \(cap) but \(needed) are needed")
        }
    }

    /// Writes `text` NUL-terminated into a caller buffer of `cap` bytes; *out_len gets
    /// its length, or on PROMPTSEL_E_BUFFER_TOO_SMALL the length the buffer needs
    /// minus the NUL (the convention of every array output: the count needed).
    static func text(_ text: String, _ out: UnsafeMutablePointer<CChar>?, _ cap: Int,
                     _ outLen: UnsafeMutablePointer<Int>?) throws(PromptSelError) {
        let outLen = try pointer(outLen, "out_len")
        let bytes = Array(text.utf8)
        let cap = try count(cap, "out_cap")
        guard cap > bytes.count else {
            outLen.pointee = bytes.count
            throw PromptSelError(.bufferTooSmall, "the text needs \(bytes.count + 1) bytes, out_cap is \(cap)")
        }
        let dst = try pointer(out, "out")
        for (i, b) in bytes.enumerated() { dst[i] = CChar(bitPattern: b) }
        dst[bytes.count] = 0
        outLen.pointee = bytes.count
    }

    /// A NUL-terminated string from C, or "" for NULL when `optional`.
    static func string(_ p: UnsafePointer<CChar>?, _ name: String, optional: Bool) throws(PromptSelError) -> String {
        guard let p else {
            if optional { return "" }
            throw PromptSelError(.invalidArgument, "\(name) is NULL")
        }
        return String(cString: p)
    }

    /// A file path: its exact bytes (no UTF-8 decoding that could rewrite them).
    static func path(_ p: UnsafePointer<CChar>?) throws(PromptSelError) -> AtomicFile.Path {
        guard let p else { throw PromptSelError(.invalidArgument, "path is NULL") }
        return try AtomicFile.Path(p)
    }

    static func string(_ p: UnsafePointer<CChar>?, _ name: String) throws(PromptSelError) -> String {
        guard let p else { throw PromptSelError(.invalidArgument, "\(name) is NULL") }
        let s = String(cString: p)
        guard !s.isEmpty else { throw PromptSelError(.invalidArgument, "\(name) is empty") }
        return s
    }
}

extension UnsafeMutablePointer {
    /// Writes `values` to the first `values.count` elements.
    @inline(__always)
    func store(_ values: [Pointee]) {
        values.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress, !buf.isEmpty else { return }
            update(from: base, count: buf.count)
        }
    }
}
