/// Per-prompt feature rows of the feature methods, stored compactly: the raw float32
/// features (dim each; what checkpoints keep and set_features replaces) and their
/// projection phi (rank + 1 each; what every step reads). Rows are addressed by the
/// index a model keeps in its table entry.
public struct FeatureStore: Sendable {
    public let dim: Int
    public let width: Int
    var raw: [Float] = []
    var phi: [Float] = []

    public init(dim: Int, width: Int) {
        self.dim = dim
        self.width = width
    }

    public var rows: Int { dim == 0 ? 0 : raw.count / dim }

    /// Appends a row, or replaces row `index` when given; returns the row index.
    mutating func put(_ x: ArraySlice<Float>, _ projected: [Float], at index: Int? = nil) -> Int {
        if let index {
            raw.replaceSubrange((index * dim)..<((index + 1) * dim), with: x)
            phi.replaceSubrange((index * width)..<((index + 1) * width), with: projected)
            return index
        }
        raw.append(contentsOf: x)
        phi.append(contentsOf: projected)
        return rows - 1
    }

    func phiRow(_ index: Int) -> ArraySlice<Float> { phi[(index * width)..<((index + 1) * width)] }
    func rawRow(_ index: Int) -> ArraySlice<Float> { raw[(index * dim)..<((index + 1) * dim)] }

    var allocatedBytes: Int { raw.capacity * 4 + phi.capacity * 4 }

    /// Checks features from a caller or a file: finite, n rows of `dim`.
    static func check(_ rows: [Float], count: Int, dim: Int) throws(PromptSelError) {
        guard rows.count == count * dim else {
            throw .invalid("features need \(dim) values per id (\(count * dim)), got \(rows.count)")
        }
        if let bad = rows.firstIndex(where: { !$0.isFinite }) {
            throw .invalid("features[\(bad / dim)][\(bad % dim)] is \(rows[bad]), not a finite number")
        }
    }

    /// Checkpoint payload: the raw rows (phi is recomputed from them on load).
    func encode(_ w: inout ByteWriter) {
        for v in raw { w.u32(v.bitPattern) }
    }
}
