/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib's crc32), computed
/// slice-by-8: eight table lookups per 8 input bytes, so a 10M-prompt checkpoint
/// (about 250 MB) is checked in a fraction of a second.
public enum CRC32 {
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for s in 1..<8 { t[s][i] = (t[s - 1][i] >> 8) ^ t[0][Int(t[s - 1][i] & 0xFF)] }
        }
        return t
    }()

    /// CRC-32 of `bytes[range]`.
    public static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        update(0xFFFF_FFFF, bytes, range) ^ 0xFFFF_FFFF
    }

    /// The running (not yet inverted) register after `bytes[range]`, for a checksum
    /// computed over a stream: start at 0xFFFF_FFFF, invert at the end.
    static func update(_ register: UInt32, _ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        let t = tables
        let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
        var c = register
        var i = range.lowerBound
        let end = range.upperBound
        while end - i >= 8 {
            let lo = c ^ (UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8
                | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            c = t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)]
                ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                ^ t3[Int(bytes[i + 4])] ^ t2[Int(bytes[i + 5])]
                ^ t1[Int(bytes[i + 6])] ^ t0[Int(bytes[i + 7])]
            i += 8
        }
        while i < end {
            c = t0[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
            i += 1
        }
        return c
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { checksum(bytes, 0..<bytes.count) }
}
