/// A prompt selector: its method's model, the parameters it was made with, its own
/// random generator and a step count. Not thread-safe by itself; the ABI layer puts
/// it behind a lock.
///
/// Every operation validates all of its inputs before it changes anything, so a call
/// that throws leaves the selector exactly as it was. What every method shares is
/// here, once; what a method does is in its model (see `SelectionModel`).
public final class PromptSelector {
    public let model: any SelectionModel
    public let parameters: Parameters
    public internal(set) var rng: Xoshiro256StarStar
    /// Number of update calls applied so far (one per training step).
    public internal(set) var steps: UInt64 = 0
    let noUpdate: Bool

    public var info: MethodInfo { type(of: model).info }

    /// A selector of `method` with `params` text ("seed=7 strategy=threshold ...")
    /// over the method's defaults.
    public convenience init(method: String, params: String = "") throws(PromptSelError) {
        let type = try MethodRegistry.model(named: method)
        try self.init(type, Parameters(specs: type.info.parameters, text: params, method: method))
    }

    public init(_ type: any SelectionModel.Type, _ parameters: Parameters) throws(PromptSelError) {
        model = try type.init(parameters)
        self.parameters = parameters
        rng = Xoshiro256StarStar(seed: parameters.unsigned("seed"))
        noUpdate = parameters.flag("no_update")
    }

    public var count: Int { model.count }
    public var ids: [Int64] { model.ids }
    public var allocatedBytes: Int { model.allocatedBytes }
    public var entryBytes: Int { model.entryBytes }

    /// The model as its concrete type, for tests and method-specific code.
    public func model<M: SelectionModel>(as: M.Type) throws(PromptSelError) -> M {
        guard let m = model as? M else {
            throw PromptSelError(.unsupported, "this selector runs \(info.name), not \(M.info.name)")
        }
        return m
    }

    // MARK: - One training step

    /// Throws unless 1 <= batchSize <= poolSize.
    public static func validateBatch(poolSize: Int, batchSize: Int) throws(PromptSelError) {
        guard poolSize > 0 else { throw .invalid("the candidate pool is empty") }
        guard batchSize >= 1 else { throw .invalid("batch_size must be >= 1, got \(batchSize)") }
        guard batchSize <= poolSize else {
            throw .invalid("batch_size \(batchSize) exceeds the \(poolSize) candidates")
        }
    }

    /// Chooses `batchSize` of `candidates`; unseen ids start at the prior. With
    /// `withState`, also the state rows of the chosen candidates (`info.state`
    /// columns each), read after the choice.
    public func select(candidates: [Int64], batchSize: Int,
                       withState: Bool = false) throws(PromptSelError) -> (selection: Selection, state: [Double]) {
        try PromptSelector.validateBatch(poolSize: candidates.count, batchSize: batchSize)
        try ensureRoom(for: candidates.count)
        try model.validate(ids: candidates)
        let chosen = model.select(candidates, batchSize: batchSize, rng: &rng)
        return (chosen, withState ? model.state(chosen.positions.map { candidates[$0] }) : [])
    }

    /// Chooses `batchSize` of `candidates` (see `select(candidates:batchSize:withState:)`).
    public func select(candidates: [Int64], batchSize: Int) throws(PromptSelError) -> Selection {
        try select(candidates: candidates, batchSize: batchSize, withState: false).selection
    }

    /// Feeds back one step of rollouts. `rollouts[i]` in [1, 2^20], `rates[i]` in [0, 1].
    public func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError) {
        guard rates.count == ids.count, rollouts.count == ids.count else {
            throw .invalid("ids, success_rate and rollouts must have the same length "
                + "(\(ids.count), \(rates.count), \(rollouts.count))")
        }
        for i in 0..<ids.count {
            let s = rates[i]
            guard !s.isNaN else { throw .invalid("success_rate[\(i)] is NaN (id \(ids[i]))") }
            guard s >= 0 && s <= 1 else {
                throw .range("success_rate[\(i)] = \(s) is outside [0, 1] (id \(ids[i]))")
            }
            guard rollouts[i] >= 1 && rollouts[i] <= CountBounds.maxRollouts else {
                throw .range("rollouts[\(i)] = \(rollouts[i]) must lie in [1, \(CountBounds.maxRollouts)] (id \(ids[i]))")
            }
        }
        try ensureRoom(for: ids.count)
        try model.validate(ids: ids)
        // Frozen (the offline baseline): no observation and no propagation either.
        if !noUpdate { try model.update(ids: ids, rates: rates, rollouts: rollouts) }
        steps &+= 1
    }

    /// Shuffles `values` in place with the selector's generator (`SelectionRules.shuffle`),
    /// so a sampler's own random choices are seeded and checkpointed with the selector.
    /// Independent of `no_update`.
    public func shuffle(_ values: inout [Int64]) {
        SelectionRules.shuffle(&values, rng: &rng)
    }

    // MARK: - Queries and state

    /// Expected success rate of each id under the model (the prior for unseen ids).
    public func predict(_ ids: [Int64]) throws(PromptSelError) -> [Double] {
        try model.validate(ids: ids)
        return model.predict(ids)
    }

    /// Per id: the predictive Beta's mean and standard deviation.
    public func uncertainty(_ ids: [Int64]) throws(PromptSelError) -> [Double] {
        try model.validate(ids: ids)
        return try model.predictiveBeta(ids).map { b in
            let s = b.alpha + b.beta
            return (b.alpha * b.beta / (s * s * (s + 1))).squareRoot()
        }
    }

    /// Per id: its predictive Beta (what `allocate` works from; the ABI reads it under
    /// the lock and allocates outside).
    public func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)] {
        try model.validate(ids: ids)
        return try model.predictiveBeta(ids)
    }

    /// Test-time samples per id (see `Acquisition.allocate`) and the predicted
    /// success of each.
    public func allocate(_ ids: [Int64], budget: Int, minPer: Int, maxPer: Int) throws(PromptSelError) -> (counts: [Int], mean: [Double]) {
        let beta = try predictiveBeta(ids)
        let counts = try Acquisition.allocate(beta, budget: budget, minPer: minPer, maxPer: maxPer)
        return (counts, beta.map { $0.alpha / ($0.alpha + $0.beta) })
    }

    public func setFeatures(ids: [Int64], rows: UnsafeBufferPointer<Float>) throws(PromptSelError) {
        guard model.featureDim > 0 else { return try model.setFeatures(ids: ids, rows: rows) }
        guard rows.count == ids.count * model.featureDim else {
            throw .invalid("features need \(model.featureDim) values per id (\(ids.count * model.featureDim)), got \(rows.count)")
        }
        try ensureRoom(for: ids.count)
        try model.setFeatures(ids: ids, rows: rows)
    }

    /// `setFeatures` from an array (Swift callers and tests).
    public func setFeatures(ids: [Int64], rows: [Float]) throws(PromptSelError) {
        try rows.withUnsafeBufferPointer { (p) throws(PromptSelError) in try setFeatures(ids: ids, rows: p) }
    }

    /// The state rows of `ids` (`info.state` columns each, row-major).
    public func state(_ ids: [Int64]) -> [Double] { model.state(ids) }

    /// Columns `columns` of the state rows of `ids`.
    public func state(_ ids: [Int64], columns: Range<Int>) throws(PromptSelError) -> [Double] {
        let width = info.state.count
        guard columns.lowerBound >= 0, columns.upperBound <= width else {
            throw .invalid("state columns \(columns.lowerBound)..<\(columns.upperBound) are outside the "
                + "\(width) columns of \(info.name)")
        }
        return model.state(ids, columns: columns)
    }

    public var priorRow: [Double] { model.priorRow }

    public func setState(ids: [Int64], rows: [Double]) throws(PromptSelError) {
        let width = info.state.count
        guard rows.count == ids.count * width else {
            throw .invalid("state needs \(width) values per id (\(ids.count * width)), got \(rows.count)")
        }
        try ensureRoom(for: ids.count)
        try model.setState(ids: ids, rows: rows)
    }

    public func warmStart(ids: [Int64], successes: [Double], trials: [Double], weight: Double) throws(PromptSelError) {
        guard successes.count == ids.count, trials.count == ids.count else {
            throw .invalid("ids, successes and trials must have the same length")
        }
        try ensureRoom(for: ids.count)
        try model.warmStart(ids: ids, successes: successes, trials: trials, weight: weight)
    }

    public func metrics(_ scope: MetricScope) -> [Double] { model.metrics(scope) }

    /// Throws unless `extra` more prompts fit in the table (dense indices are Int32).
    func ensureRoom(for extra: Int) throws(PromptSelError) {
        guard count + extra <= maxPrompts else {
            throw PromptSelError(.noMemory, "more than \(maxPrompts) prompts")
        }
    }
}
