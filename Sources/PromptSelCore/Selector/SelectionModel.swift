/// What every selection method provides. One conforming class per method, in its
/// own folder under Methods/, listed once in `MethodRegistry`; `PromptSelector`
/// holds the common part (generator, step count, input validation) and dispatches
/// here once per call.
///
/// Inputs reaching a model are validated by `PromptSelector` (lengths, rates in
/// [0, 1], rollouts in range, room in the table); a model validates what only it
/// understands (its state values) before changing anything.
public protocol SelectionModel: AnyObject {
    /// Name, parameters, strategies, state columns and metrics of the method.
    static var info: MethodInfo { get }

    /// A model with no prompts, from validated parameters (cross-parameter rules,
    /// such as lower <= upper, are the model's to check).
    init(_ parameters: Parameters) throws(PromptSelError)

    /// Prompts tracked, their ids in first-seen order, and memory held.
    var count: Int { get }
    var ids: [Int64] { get }
    var allocatedBytes: Int { get }
    /// Bytes of one prompt's table entry (id and state).
    var entryBytes: Int { get }

    /// How many of `ids` the model does not track yet (duplicates counted each time):
    /// what a call inserting them may grow the table by. For memory estimates only.
    func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int

    /// Refuses ids the model cannot score (feature methods: ids without features);
    /// called before select, update and predict change or read anything.
    func validate(ids: [Int64]) throws(PromptSelError)

    /// Chooses `batchSize` (1 ... candidates.count) positions of `candidates`;
    /// unseen ids start at the prior and are tracked from then on.
    func select(_ candidates: [Int64], batchSize: Int, rng: inout Xoshiro256StarStar) -> Selection

    /// One training step of feedback (validated). A model may refuse (e.g. a step
    /// counter at its limit) only before it changes anything.
    func update(ids: [Int64], rates: [Double], rollouts: [Int32]) throws(PromptSelError)

    /// Expected success rate per id (the prior's for unseen ids). Never inserts.
    func predict(_ ids: [Int64]) -> [Double]

    /// The state columns `columns` (within `info.state`) of each id, row-major (the
    /// prior's for unseen ids). Only those columns are written: reading the beliefs
    /// of many ids does not pay for the whole row.
    func state(_ ids: [Int64], columns: Range<Int>) -> [Double]

    /// The state row of a prompt never seen (what `state` reports for it).
    var priorRow: [Double] { get }

    /// Replaces the state of each id from rows laid out as `state`, adding unseen
    /// ids. Validates every row first; a loaded checkpoint passes the same checks.
    func setState(ids: [Int64], rows: [Double]) throws(PromptSelError)

    /// Sets each id's state from offline results (successes of trials, weighted).
    func warmStart(ids: [Int64], successes: [Double], trials: [Double], weight: Double) throws(PromptSelError)

    /// Values of `info.metrics` of the given scope, in order.
    func metrics(_ scope: MetricScope) -> [Double]

    /// Feature methods: the dimension of their feature rows (0: the method has none),
    /// and the replacement of each id's row (row-major, `featureDim` floats each,
    /// read in place: a caller's matrix may be gigabytes).
    var featureDim: Int { get }
    func setFeatures(ids: [Int64], rows: UnsafeBufferPointer<Float>) throws(PromptSelError)

    /// The predictive distribution of each id's success rate as a Beta (alpha, beta)
    /// (moment-matched where the model is not Beta), for allocation and uncertainty.
    func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)]

    /// The model's checkpoint payload, and its inverse into a fresh model (which
    /// validates exactly as `setState` does: nothing a file says may trap later).
    func encode(_ w: inout ByteWriter)
    func decode(_ r: inout ByteReader) throws(PromptSelError)
}

extension SelectionModel {
    /// Every state column of each id.
    public func state(_ ids: [Int64]) -> [Double] { state(ids, columns: 0..<Self.info.state.count) }

    public func warmStart(ids: [Int64], successes: [Double], trials: [Double], weight: Double) throws(PromptSelError) {
        let with = MethodRegistry.models.filter { $0.info.hasWarmStart }.map { $0.info.name }
        throw PromptSelError(.unsupported, "warm_start is not available for method \(Self.info.name) "
            + "(methods with a warm start: \(with.joined(separator: ", ")))")
    }

    public func metrics(_ scope: MetricScope) -> [Double] { [] }

    public var featureDim: Int { 0 }

    public func validate(ids: [Int64]) throws(PromptSelError) {}

    public func setFeatures(ids: [Int64], rows: UnsafeBufferPointer<Float>) throws(PromptSelError) {
        throw PromptSelError(.unsupported, "method \(Self.info.name) uses no prompt features (gps and hybrid do)")
    }

    public func predictiveBeta(_ ids: [Int64]) throws(PromptSelError) -> [(alpha: Double, beta: Double)] {
        throw PromptSelError(.unsupported, "method \(Self.info.name) has no predictive success distribution")
    }
}

/// Chosen positions into the candidates and their acquisition scores, best first
/// where the strategy ranks.
public struct Selection: Equatable, Sendable {
    public var positions: [Int]
    public var scores: [Double]

    public init(positions: [Int], scores: [Double]) {
        self.positions = positions
        self.scores = scores
    }
}

/// Which metrics: those of the last step (O(1)), or those over every tracked
/// prompt (O(prompts)). Raw values are `PROMPTSEL_METRICS_*`.
public enum MetricScope: Int32, Sendable, CaseIterable {
    case step = 0
    case all = 1
}

/// A method as the library describes it.
public struct MethodInfo: Sendable {
    public struct Column: Sendable {
        public let name: String
        public let doc: String
        public init(_ name: String, _ doc: String) {
            self.name = name
            self.doc = doc
        }
    }

    public struct Metric: Sendable {
        public let name: String
        public let scope: MetricScope
        public let doc: String
        public init(_ name: String, _ scope: MetricScope, _ doc: String) {
            self.name = name
            self.scope = scope
            self.doc = doc
        }
    }

    /// The name callers use ("mopps").
    public let name: String
    /// Identifies the method in checkpoint headers; never reused.
    public let checkpointID: UInt32
    public let summary: String
    /// Every parameter: the common ones first, then the method's own.
    public let parameters: [ParameterSpec]
    public let state: [Column]
    public let metrics: [Metric]
    /// Whether the model implements `warmStart` (offline results).
    public let hasWarmStart: Bool

    public init(name: String, checkpointID: UInt32, summary: String, strategies: [String], defaultStrategy: String,
                parameters: [ParameterSpec], state: [Column], metrics: [Metric] = [], hasWarmStart: Bool = false) {
        self.hasWarmStart = hasWarmStart
        self.name = name
        self.checkpointID = checkpointID
        self.summary = summary
        self.parameters = CommonParameters.specs(strategies: strategies, defaultStrategy: defaultStrategy) + parameters
        self.state = state
        self.metrics = metrics
    }

    public func metrics(_ scope: MetricScope) -> [Metric] { metrics.filter { $0.scope == scope } }

    /// The description `promptsel_method_describe` returns: one tab-separated line
    /// per item, `method`, then `param name type default domain doc`, `state name doc`
    /// and `metric name scope doc`.
    public var described: String {
        var lines = ["method\t\(name)\t\(summary)"]
        for p in parameters { lines.append("param\t\(p.name)\t\(p.typeName)\t\(p.defaultValue)\t\(p.domain)\t\(p.doc)") }
        for c in state { lines.append("state\t\(c.name)\t\(c.doc)") }
        for m in metrics { lines.append("metric\t\(m.name)\t\(m.scope == .step ? "step" : "all")\t\(m.doc)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
