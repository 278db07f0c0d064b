/// Built-in prompt features: signed feature hashing of unigrams and bigrams of
/// words (or token ids), L2-normalised. No model, no download, and deterministic
/// across processes and machines: the hashes are fixed functions of the bytes
/// (FNV-1a then a SplitMix64 finaliser), never a process-seeded hash.
///
/// Words: maximal runs of ASCII letters and digits or non-ASCII bytes (so UTF-8
/// text keeps its words), ASCII-lowercased. Each unigram and each adjacent pair adds
/// ±1 at the index its hash picks; the sign is another bit of the same hash, so
/// collisions cancel in expectation.
public enum Featurize {
    public static let maxDim = 1 << 20

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {  // SplitMix64's finaliser
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func add(_ h: UInt64, _ row: inout [Float], _ dim: Int) {
        let index = Int(h % UInt64(dim))
        row[index] += (h >> 63) == 0 ? 1 : -1
    }

    /// The hashes of a sequence of unigram hashes: unigrams, then bigrams.
    static func vector(_ grams: [UInt64], dim: Int) -> [Float] {
        var row = [Float](repeating: 0, count: dim)
        for (i, g) in grams.enumerated() {
            add(mix(g ^ 0x756E_6967_7261_6D00), &row, dim)  // "unigram"
            if i > 0 { add(mix(grams[i - 1] &* 0x100_0000_01B3 ^ mix(g) ^ 0x6269_6772_616D_0000), &row, dim) }
        }
        var norm: Float = 0
        for v in row { norm += v * v }
        if norm > 0 {
            let scale = 1 / norm.squareRoot()
            for k in 0..<dim { row[k] *= scale }
        }
        return row
    }

    /// Features of one UTF-8 text.
    public static func text(_ bytes: ArraySlice<UInt8>, dim: Int) -> [Float] {
        var grams: [UInt64] = []
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var inWord = false
        for b in bytes {
            let isWord = b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            if isWord {
                let lower = b >= 0x41 && b <= 0x5A ? b + 32 : b
                h = (h ^ UInt64(lower)) &* 0x100_0000_01B3
                inWord = true
            } else if inWord {
                grams.append(h)
                h = 0xCBF2_9CE4_8422_2325
                inWord = false
            }
        }
        if inWord { grams.append(h) }
        return vector(grams, dim: dim)
    }

    /// Features of one token-id sequence.
    public static func tokens(_ ids: ArraySlice<Int64>, dim: Int) -> [Float] {
        vector(ids.map { mix(UInt64(bitPattern: $0) ^ 0x746F_6B65_6E00_0000) }, dim: dim)
    }

    /// Checks CSR offsets: n + 1 nondecreasing values from 0 to `total`.
    public static func checkOffsets(_ offsets: [Int], total: Int) throws(PromptSelError) {
        guard let first = offsets.first, first == 0, offsets.last == total else {
            throw .invalid("offsets must start at 0 and end at the data length \(total)")
        }
        for i in 1..<offsets.count where offsets[i] < offsets[i - 1] {
            throw .invalid("offsets must not decrease (offsets[\(i)] = \(offsets[i]) < \(offsets[i - 1]))")
        }
    }

    public static func checkDim(_ dim: Int) throws(PromptSelError) {
        guard dim >= 1, dim <= maxDim else { throw .range("dim must lie in [1, \(maxDim)], got \(dim)") }
    }
}
