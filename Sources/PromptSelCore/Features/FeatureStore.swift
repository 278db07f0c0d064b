/// Per-prompt feature rows of the feature methods, stored compactly: only each
/// prompt's projection phi (rank + 1 floats), what every step reads and what
/// checkpoints keep. The caller's raw rows (dim floats each, up to 4 KiB) are read
/// once by set_features and never copied whole, so registering features needs
/// about (rank + 1) * 4 bytes per prompt beyond the caller's own matrix. Rows are
/// addressed by the index a model keeps in its table entry.
public struct FeatureStore: Sendable {
    public let dim: Int
    public let width: Int
    var phi: [Float] = []

    public init(dim: Int, width: Int) {
        self.dim = dim
        self.width = width
    }

    public var rows: Int { phi.count / width }

    /// Room for `extra` more rows, allocated once (so a large registration does not
    /// double its buffer by appending).
    mutating func reserve(extra: Int) {
        let needed = (rows + extra) * width
        if needed > phi.capacity { phi.reserveCapacity(needed) }
    }

    /// Appends a projected row, or replaces row `index` when given; returns the row index.
    mutating func put(_ projected: UnsafeBufferPointer<Float>, at index: Int? = nil) -> Int {
        if let index {
            phi.withUnsafeMutableBufferPointer { p in
                for k in 0..<width { p[index * width + k] = projected[k] }
            }
            return index
        }
        phi.append(contentsOf: projected)
        return rows - 1
    }

    func phiRow(_ index: Int) -> ArraySlice<Float> { phi[(index * width)..<((index + 1) * width)] }

    var allocatedBytes: Int { phi.capacity * 4 }

    /// Checks raw features from a caller or a file: finite (any finite magnitude:
    /// the model sees each row scaled to unit length), n rows of `dim`.
    static func check(_ rows: UnsafeBufferPointer<Float>, count: Int, dim: Int) throws(PromptSelError) {
        guard rows.count == count * dim else {
            throw .invalid("features need \(dim) values per id (\(count * dim)), got \(rows.count)")
        }
        if let bad = rows.firstIndex(where: { !$0.isFinite }) {
            throw .invalid("features[\(bad / dim)][\(bad % dim)] is \(rows[bad]), not a finite number")
        }
    }

    /// Checks a projected row read from a file: finite, its bias exactly 1, no longer
    /// than a unit row's projection can be (`bound` of its squared length).
    static func checkProjected(_ row: UnsafeBufferPointer<Float>, bound: Double) -> Bool {
        var squares = 0.0
        for v in row.dropLast() {
            guard v.isFinite else { return false }
            squares += Double(v) * Double(v)
        }
        return row.last == 1 && squares <= bound
    }
}
