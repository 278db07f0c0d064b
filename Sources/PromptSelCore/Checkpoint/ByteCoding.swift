/// Little-endian writer into a growing byte array.
/// With `counting`, it only counts: a first pass gives the exact size, so the real
/// pass reserves once and never doubles (a doubling needs 3x the checkpoint at once).
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    /// Bytes written (or counted) so far.
    public private(set) var count = 0
    let counting: Bool

    public init(reserving n: Int = 0, counting: Bool = false) {
        self.counting = counting
        if !counting { bytes.reserveCapacity(n) }
    }

    public mutating func u32(_ v: UInt32) {
        count += 4
        if !counting { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    }
    public mutating func u64(_ v: UInt64) {
        count += 8
        if !counting { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }
    public mutating func raw(_ b: [UInt8]) {
        count += b.count
        if !counting { bytes.append(contentsOf: b) }
    }

    public mutating func i64s(_ a: [Int64]) { for v in a { i64(v) } }
    public mutating func f64s(_ a: [Double]) { for v in a { f64(v) } }

    /// Overwrites 8 bytes at `offset` (used to patch in a length afterwards).
    public mutating func patchU64(_ v: UInt64, at offset: Int) {
        if counting { return }
        var x = v.littleEndian
        for k in 0..<8 { bytes[offset + k] = UInt8(truncatingIfNeeded: x); x >>= 8 }
    }
}

/// Where a reader's bytes come from: writes the next bytes into `buffer[range]` (at
/// most `range.count`, from its start) and returns how many (0: the end). A file, a
/// caller's memory, an array: the reader never needs the whole input at once.
public typealias ByteSource = (inout [UInt8], Range<Int>) throws(PromptSelError) -> Int

/// Bounds-checked little-endian reader over a stream of known length, read through a
/// bounded window (so a checkpoint is decoded without holding the whole file), with a
/// running CRC-32 of every byte consumed. Every read past the end throws `.corrupt`.
public struct ByteReader {
    /// Window size: large enough that refills are rare, small beside any state.
    static let windowSize = 1 << 20
    private var window: [UInt8]
    private var position = 0      // next unread byte in the window
    private var filled = 0        // valid bytes in the window
    private var checked = 0       // window bytes already in `register`
    private var register: UInt32 = 0xFFFF_FFFF
    /// Bytes not consumed yet, in the window or still at the source.
    private var unread: Int
    /// Bytes at the end that reads may not consume (the trailing checksum).
    private var reserved = 0
    private let source: ByteSource
    /// The checkpoint format being read (set from the frame), for payloads whose
    /// layout changed between formats.
    public var formatVersion: UInt32 = CheckpointFormat.version

    /// A reader of `count` bytes from `source`.
    public init(count: Int, source: @escaping ByteSource) {
        unread = count
        self.source = source
        window = [UInt8](repeating: 0, count: min(max(count, 16), ByteReader.windowSize))
    }

    /// A reader of `bytes[start..<end]`.
    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        var next = start
        let end = end ?? bytes.count
        self.init(count: max(end - start, 0)) { buffer, range throws(PromptSelError) in
            let k = min(range.count, end - next)
            if k > 0 {
                buffer.withUnsafeMutableBufferPointer { dst in
                    bytes.withUnsafeBufferPointer { src in
                        (dst.baseAddress! + range.lowerBound).update(from: src.baseAddress! + next, count: k)
                    }
                }
            }
            next += k
            return k
        }
    }

    /// Bytes left for reads (excluding a reserved tail).
    public var remaining: Int { unread - reserved }

    /// Keeps the last `n` bytes out of reach of ordinary reads (a trailing checksum).
    public mutating func reserveTail(_ n: Int) { reserved = n }

    /// Makes at least `n` bytes available in the window, refilling from the source.
    @inline(__always)
    private mutating func ensure(_ n: Int, _ what: String, tail: Bool = false) throws(PromptSelError) {
        guard n >= 0, n <= (tail ? unread : unread - reserved) else {
            throw .corrupt("checkpoint is truncated: \(what) needs \(n) bytes, \(remaining) left")
        }
        if filled - position >= n { return }
        // Checksum what was consumed, move the rest to the front, refill.
        register = CRC32.update(register, window, checked..<position)
        let keep = filled - position
        if keep > 0 {
            let from = position
            window.withUnsafeMutableBufferPointer { w in
                w.baseAddress!.update(from: w.baseAddress! + from, count: keep)
            }
        }
        position = 0
        checked = 0
        filled = keep
        if window.count < n { window += [UInt8](repeating: 0, count: n - window.count) }
        while filled < n {
            let got = try source(&window, filled..<min(window.count, unread))
            guard got > 0 else { throw .corrupt("checkpoint is truncated: \(what) is cut off") }
            filled += got
        }
    }

    public mutating func need(_ n: Int, _ what: String) throws(PromptSelError) {
        guard n >= 0, n <= remaining else {
            throw .corrupt("checkpoint is truncated: \(what) needs \(n) bytes, \(remaining) left")
        }
    }

    @inline(__always)
    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: String, tail: Bool = false) throws(PromptSelError) -> T {
        let size = MemoryLayout<T>.size
        try ensure(size, what, tail: tail)
        let v = window.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += size
        unread -= size
        return T(littleEndian: v)
    }

    public mutating func u64(_ what: String = "value") throws(PromptSelError) -> UInt64 { try load(UInt64.self, what) }
    public mutating func u32(_ what: String = "value") throws(PromptSelError) -> UInt32 { try load(UInt32.self, what) }
    public mutating func i32(_ what: String = "value") throws(PromptSelError) -> Int32 { Int32(bitPattern: try u32(what)) }
    public mutating func i64(_ what: String = "value") throws(PromptSelError) -> Int64 { Int64(bitPattern: try u64(what)) }
    public mutating func f64(_ what: String = "value") throws(PromptSelError) -> Double { Double(bitPattern: try u64(what)) }

    public mutating func i64s(_ n: Int, _ what: String) throws(PromptSelError) -> [Int64] {
        try need(n.multipliedReportingOverflow(by: 8).overflow ? -1 : n * 8, what)
        var a = [Int64](repeating: 0, count: n)
        for i in 0..<n { a[i] = try i64(what) }
        return a
    }

    public mutating func f64s(_ n: Int, _ what: String) throws(PromptSelError) -> [Double] {
        try need(n.multipliedReportingOverflow(by: 8).overflow ? -1 : n * 8, what)
        var a = [Double](repeating: 0, count: n)
        for i in 0..<n { a[i] = try f64(what) }
        return a
    }

    public mutating func raw(_ n: Int, _ what: String) throws(PromptSelError) -> [UInt8] {
        try need(n, what)
        var out = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let k = min(n - done, ByteReader.windowSize)
            try ensure(k, what)
            for i in 0..<k { out[done + i] = window[position + i] }
            position += k
            unread -= k
            done += k
        }
        return out
    }

    /// Reads a prompt count and checks it against the bytes that remain.
    public mutating func count(bytesPerPrompt: Int) throws(PromptSelError) -> Int {
        let n = try u64("prompt count")
        guard n <= UInt64(maxPrompts), Int(n) * bytesPerPrompt <= remaining else {
            throw .corrupt("checkpoint claims \(n) prompts but holds only \(remaining) bytes of them")
        }
        return Int(n)
    }

    /// Consumes what is left before the reserved tail (after a failed decode, to
    /// still check the checksum).
    public mutating func skipToTail() throws(PromptSelError) {
        while remaining > 0 {
            let k = min(remaining, ByteReader.windowSize)
            try ensure(k, "the rest")
            position += k
            unread -= k
        }
    }

    /// CRC-32 of every byte consumed so far.
    public mutating func checksumSoFar() -> UInt32 {
        register = CRC32.update(register, window, checked..<position)
        checked = position
        return register ^ 0xFFFF_FFFF
    }

    /// Reads the reserved tail's u32 (not part of the checksum).
    public mutating func tailU32() throws(PromptSelError) -> UInt32 {
        _ = checksumSoFar()
        let v = try load(UInt32.self, "checksum", tail: true)
        checked = position
        reserved = 0
        return v
    }
}
