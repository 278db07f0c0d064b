/// Little-endian writer into a growing byte array.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(reserving n: Int = 0) { bytes.reserveCapacity(n) }

    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func f64(_ v: Double) { u64(v.bitPattern) }
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    public mutating func i64s(_ a: [Int64]) { for v in a { i64(v) } }
    public mutating func f64s(_ a: [Double]) { for v in a { f64(v) } }

    /// Overwrites 8 bytes at `offset` (used to patch in a length afterwards).
    public mutating func patchU64(_ v: UInt64, at offset: Int) {
        var x = v.littleEndian
        for k in 0..<8 { bytes[offset + k] = UInt8(truncatingIfNeeded: x); x >>= 8 }
    }
}

/// Bounds-checked little-endian reader: every read past the end throws `.corrupt`.
public struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = start
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }

    public mutating func need(_ n: Int, _ what: String) throws(PromptSelError) {
        guard n >= 0, n <= remaining else {
            throw .corrupt("checkpoint is truncated: \(what) needs \(n) bytes, \(remaining) left")
        }
    }

    public mutating func u64(_ what: String = "value") throws(PromptSelError) -> UInt64 {
        try need(8, what)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return v
    }

    public mutating func u32(_ what: String = "value") throws(PromptSelError) -> UInt32 {
        try need(4, what)
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[offset + k]) << (8 * UInt32(k)) }
        offset += 4
        return v
    }

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
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    /// Reads a prompt count and checks it against the bytes that remain.
    public mutating func count(bytesPerPrompt: Int) throws(PromptSelError) -> Int {
        let n = try u64("prompt count")
        guard n <= UInt64(maxPrompts), Int(n) * bytesPerPrompt <= remaining else {
            throw .corrupt("checkpoint claims \(n) prompts but holds only \(remaining) bytes of them")
        }
        return Int(n)
    }
}
