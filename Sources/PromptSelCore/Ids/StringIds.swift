/// Prompt ids from strings: the one definition behind `promptsel_ids_from_strings`
/// (C) and `promptsel.prompt_ids` (Python), so that every process, language and
/// machine maps the same bytes to the same int64.
///
/// The bytes of a string are its id's only input:
/// - the canonical decimal spelling of an int64, exactly as Python's `str(int)` writes
///   it (`-?(0|[1-9][0-9]*)`, not "-0", within the int64 range), is that integer, so
///   a run keyed by `str(index)` and one keyed by `index` track the same prompts;
/// - any other bytes are hashed: `fmix64(FNV-1a-64(bytes))` as a two's-complement
///   int64 (FNV-1a-64: offset basis 0xcbf29ce484222325, prime 0x100000001b3;
///   fmix64: MurmurHash3's 64-bit finalizer, which spreads FNV's weak high bits).
///
/// Generic and `@inlinable` so the C layer hashes the caller's buffer in place (no
/// copy) with a specialized loop.
public enum StringIds {
    public static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a, 64 bits: per byte, xor then multiply.
    @inlinable
    public static func fnv1a64<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt64 {
        var h = fnvOffsetBasis
        for b in bytes { h = (h ^ UInt64(b)) &* fnvPrime }
        return h
    }

    /// MurmurHash3's fmix64 finalizer (a bijection of UInt64).
    @inlinable
    public static func fmix64(_ key: UInt64) -> UInt64 {
        var h = key
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// The int64 these bytes spell canonically (as Python's `str(int)`), or nil:
    /// an optional '-', then "0" alone or a nonzero ASCII digit followed by ASCII
    /// digits; "-0", leading zeros, '+', spaces, '_' and values outside
    /// [-2^63, 2^63 - 1] are not canonical.
    @inlinable
    public static func canonicalInteger<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int64? {
        // "-9223372036854775808" is the longest canonical spelling (20 bytes).
        let n = bytes.count
        guard n >= 1, n <= 20 else { return nil }
        var i = bytes.startIndex
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative {
            i = bytes.index(after: i)
            guard i != bytes.endIndex else { return nil }
        }
        let zero = UInt8(ascii: "0")
        if bytes[i] == zero {
            // "0" alone; "-0" and "0..." are not canonical.
            return !negative && n == 1 ? 0 : nil
        }
        var magnitude: UInt64 = 0
        while i != bytes.endIndex {
            let d = bytes[i] &- zero
            guard d <= 9 else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            i = bytes.index(after: i)
        }
        if negative {
            guard magnitude <= UInt64(1) << 63 else { return nil }
            return Int64(bitPattern: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// The id of one string's bytes (see the type's documentation).
    @inlinable
    public static func id<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Int64 {
        canonicalInteger(bytes) ?? Int64(bitPattern: fmix64(fnv1a64(bytes)))
    }

    /// The ids of `offsets.count - 1` strings laid out back to back: string i is
    /// `bytes[offsets[i] ..< offsets[i + 1]]` (offsets relative to `startIndex`).
    /// Throws unless offsets start at 0, never decrease and end at `bytes.count`.
    @inlinable
    public static func ids<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes,
                                                                offsets: [Int]) throws(PromptSelError) -> [Int64] {
        guard !offsets.isEmpty else { throw PromptSelError(.invalidArgument, "offsets must hold n + 1 entries") }
        try checkOffsets(offsets, total: bytes.count)
        let base = bytes.startIndex
        return (0..<(offsets.count - 1)).map { i in
            id(bytes[bytes.index(base, offsetBy: offsets[i])..<bytes.index(base, offsetBy: offsets[i + 1])])
        }
    }

    /// Offsets of n strings: n + 1 entries, offsets[0] == 0, nondecreasing,
    /// offsets[n] == total.
    public static func checkOffsets(_ offsets: [Int], total: Int) throws(PromptSelError) {
        guard let first = offsets.first, let last = offsets.last else {
            throw .invalid("offsets must hold n + 1 entries")
        }
        guard first == 0 else { throw .invalid("offsets[0] must be 0, got \(first)") }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw .invalid("offsets must not decrease (offsets[\(i)] = \(offsets[i]) < offsets[\(i - 1)] = \(offsets[i - 1]))")
        }
        guard last == total else {
            throw .invalid("offsets[n] = \(last) must equal the byte length \(total)")
        }
    }
}
