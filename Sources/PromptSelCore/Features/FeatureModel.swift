/// A table entry of a feature method: at least the row of its prompt's features.
public protocol FeatureEntry: BitwiseCopyable {
    var row: Int32 { get set }
    init(row: Int32)
}

/// What the feature methods (gps, hybrid) share, written once: the table of prompts
/// with features, the shared predictive model, its feedback from each step, the
/// diversity history, and their checkpoint payload. A conforming model adds only its
/// own per-prompt state and selection rule.
public protocol FeatureModel: SelectionModel {
    associatedtype Entry: FeatureEntry
    var table: PromptTable<Entry> { get set }
    var model: BayesianLogistic { get set }
    var features: FeatureStore { get set }
    var diversity: Diversity { get set }
    var lastUpdate: FeatureStepStats { get set }
}

extension FeatureModel {
    public var count: Int { table.count }
    public var ids: [Int64] { table.ids }
    public var allocatedBytes: Int { table.allocatedBytes + features.allocatedBytes }
    public var entryBytes: Int { PromptTable<Entry>.entryBytes + 4 * features.width }
    public var featureDim: Int { features.dim }

    /// Table slots of `ids`, or the error naming the first id without features.
    func slots(_ ids: [Int64]) throws(PromptSelError) -> [Int] {
        let indices = table.resolve(ids, inserting: nil)
        if let j = indices.firstIndex(of: -1) {
            throw .invalid("prompt \(ids[j]) has no features: register them with set_features first")
        }
        return indices
    }

    public func validate(ids: [Int64]) throws(PromptSelError) { _ = try slots(ids) }

    /// The projected feature rows of table slots.
    func phis(_ slots: [Int]) -> [ArraySlice<Float>] {
        slots.map { features.phiRow(Int(table.entries[$0].value.row)) }
    }

    /// Registers or replaces each id's row, read in place from the caller's matrix:
    /// every row is checked before anything changes, then projected straight into
    /// the store (no copy of the matrix, one allocation of the store's growth).
    public func setFeatures(ids: [Int64], rows: UnsafeBufferPointer<Float>) throws(PromptSelError) {
        try FeatureStore.check(rows, count: ids.count, dim: features.dim)
        let dim = features.dim
        var fresh = 0
        for id in ids where table.index(of: id) == nil { fresh += 1 }  // (repeats within ids: an upper bound)
        table.reserve(extra: fresh)
        features.reserve(extra: fresh)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: features.width + dim) { buffer in
            let phi = UnsafeMutableBufferPointer(rebasing: buffer[0..<features.width])
            let unit = UnsafeMutableBufferPointer(rebasing: buffer[features.width...])
            for (j, id) in ids.enumerated() {
                model.project(UnsafeBufferPointer(rebasing: rows[(j * dim)..<((j + 1) * dim)]), into: phi, scratch: unit)
                put(id, UnsafeBufferPointer(phi))
            }
        }
    }

    /// Stores a projected row for `id`, replacing its row if it has one.
    private func put(_ id: Int64, _ phi: UnsafeBufferPointer<Float>) {
        if let i = table.index(of: id) {
            _ = features.put(phi, at: Int(table.entries[i].value.row))
        } else {
            _ = table.insert(id, Entry(row: Int32(features.put(phi))))
        }
    }

    /// The shared part of an update: prediction quality before it, the model's
    /// Laplace update, the diversity history.
    func learn(_ slots: [Int], rates: [Double], rollouts: [Int32]) {
        let rows = slots.map { Int(table.entries[$0].value.row) }
        lastUpdate = FeatureStepStats(model: model, features: features, rows: rows, rates: rates)
        var flat: [Float] = []
        flat.reserveCapacity(rows.count * features.width)
        for r in rows { flat.append(contentsOf: features.phiRow(r)) }
        model.update(phis: flat, successes: zip(rates, rollouts).map { $0 * Double($1) },
                     trials: rollouts.map { Double($0) })
        diversity.record(rows.map { features.phiRow($0) })
    }

    public func metrics(_ scope: MetricScope) -> [Double] { scope == .step ? lastUpdate.values : [] }

    // MARK: - Checkpoint: the model, its last step, the history, n, ids, then the
    // method's own per-prompt block (`encodeOwn`), then each prompt's projected row
    // (format 3; format 2 held the raw rows, projected again on load).

    func encodeShared(_ w: inout ByteWriter, own: (inout ByteWriter) -> Void) {
        FeatureParameters.encode(model, &w)
        lastUpdate.encode(&w)
        diversity.encode(&w)
        w.u64(UInt64(count))
        for e in table.entries { w.i64(e.id) }
        own(&w)
        for e in table.entries { for v in features.phiRow(Int(e.value.row)) { w.u32(v.bitPattern) } }
    }

    /// Decodes the shared payload around the method's own block (`ownBytes` per
    /// prompt, read by `own(n, reader)`), registers the features and returns the ids
    /// in table order. Rows are read and checked one at a time, never whole.
    func decodeShared(_ r: inout ByteReader, ownBytes: Int,
                      own: (Int, inout ByteReader) throws(PromptSelError) -> Void) throws(PromptSelError) -> [Int64] {
        try FeatureParameters.decode(&model, &r)
        lastUpdate = try FeatureStepStats.decode(&r)
        try diversity.decode(&r, width: model.rank)
        let projected = r.formatVersion >= 3
        let rowSize = projected ? features.width : features.dim
        let n = try r.count(bytesPerPrompt: 8 + ownBytes + 4 * rowSize)
        var ids: [Int64] = []
        ids.reserveCapacity(n)
        for _ in 0..<n { ids.append(try r.i64("ids")) }
        guard Set(ids).count == n else { throw .corrupt("checkpoint lists an id twice") }
        try own(n, &r)
        table.reserve(extra: n)
        features.reserve(extra: n)
        let bound = model.projectedBound
        var row = [Float](repeating: 0, count: rowSize)
        var phi = [Float](repeating: 0, count: features.width)
        var unit = [Float](repeating: 0, count: features.dim)
        for (j, id) in ids.enumerated() {
            for k in 0..<rowSize { row[k] = Float(bitPattern: try r.u32("features")) }
            try row.withUnsafeBufferPointer { (x) throws(PromptSelError) in
                if projected {
                    guard FeatureStore.checkProjected(x, bound: bound) else {
                        throw .corrupt("checkpoint holds an invalid projected feature row for prompt \(id) "
                            + "(non-finite, too long, or its bias term is not 1)")
                    }
                    put(id, x)
                } else {
                    do throws(PromptSelError) { try FeatureStore.check(x, count: 1, dim: features.dim) } catch {
                        throw .corrupt("checkpoint holds invalid features for row \(j): \(error.message)")
                    }
                    phi.withUnsafeMutableBufferPointer { p in
                        unit.withUnsafeMutableBufferPointer { model.project(x, into: p, scratch: $0) }
                    }
                    phi.withUnsafeBufferPointer { put(id, $0) }
                }
            }
        }
        return ids
    }
}
