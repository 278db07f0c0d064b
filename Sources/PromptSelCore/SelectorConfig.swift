/// Which model a selector keeps per prompt. Raw values are `PROMPTSEL_METHOD_*`.
public enum SelectionMethod: Int32, Sendable, CaseIterable {
    case mopps = 1
    case dps = 2
}

/// How a batch is chosen from the candidates. Raw values are `PROMPTSEL_STRATEGY_*`.
public enum SelectionStrategy: Int32, Sendable, CaseIterable {
    case topk = 1
    case threshold = 2
    case uniform = 3
    case topkEntropy = 4
}

/// DPS prior transition counts. Raw values are `PROMPTSEL_DPS_PRIOR_*`.
public enum DPSPriorShape: Int32, Sendable, CaseIterable {
    case constant = 0
    case progress = 1
    case stability = 2
    case local = 3
}

/// DPS prior belief. Raw values are `PROMPTSEL_DPS_PI_*`.
public enum DPSPriorPi: Int32, Sendable, CaseIterable {
    case uniform = 0
    case unsolved = 1
    case partial = 2
    case solved = 3
}

/// Everything that defines a selector's behaviour. Mirrors `promptsel_config`.
public struct SelectorConfig: Equatable, Sendable {
    public var method: SelectionMethod
    public var strategy: SelectionStrategy = .topk
    /// Updates are validated but leave the model frozen (the "offline" baseline).
    public var noUpdate = false
    public var seed: UInt64 = 0
    // MoPPS
    public var target = 0.5
    public var lower = 0.3
    public var upper = 0.7
    public var decay = 1.0
    public var priorAlpha = 1.0
    public var priorBeta = 1.0
    // DPS
    public var dpsPriorShape: DPSPriorShape = .constant
    public var dpsPriorPi: DPSPriorPi = .uniform
    public var dpsPriorAlpha = 1.0
    public var dpsTransitionDecay = 1.0
    public var dpsEntropyWeight = 0.0

    /// Range of a Beta pseudo-count accepted anywhere (priors, imported or loaded
    /// posteriors). The top is far beyond any real history and keeps every sum
    /// finite; the bottom keeps the Beta sampler's log-space path finite.
    public static let maxCount = 1e15
    public static let minCount = 1e-12
    /// Rollouts of one prompt in one update: with `maxCount` this leaves room for
    /// about a billion steps before a posterior could reach the top.
    public static let maxRollouts: Int32 = 1 << 20
    public static let countRange = minCount...maxCount

    /// The defaults of `method`, those of the authors' released configs.
    public init(method: SelectionMethod) {
        self.method = method
    }

    /// Throws the first problem found, naming the field and the value.
    public func validate() throws(PromptSelError) {
        func unit(_ name: String, _ v: Double) throws(PromptSelError) {
            guard v.isFinite else { throw .invalid("\(name) must be a finite number, got \(v)") }
            guard v >= 0 && v <= 1 else { throw .range("\(name) must lie in [0, 1], got \(v)") }
        }
        func positive(_ name: String, _ v: Double) throws(PromptSelError) {
            guard v.isFinite else { throw .invalid("\(name) must be a finite number, got \(v)") }
            guard v >= SelectorConfig.minCount && v <= SelectorConfig.maxCount else {
                throw .range("\(name) must lie in [\(SelectorConfig.minCount), \(SelectorConfig.maxCount)], got \(v)")
            }
        }
        func decayRatio(_ name: String, _ v: Double) throws(PromptSelError) {
            guard v.isFinite else { throw .invalid("\(name) must be a finite number, got \(v)") }
            guard v > 0 && v <= 1 else { throw .range("\(name) must lie in (0, 1], got \(v)") }
        }
        switch method {
        case .mopps:
            guard strategy != .topkEntropy else {
                throw .invalid("strategy topk+entropy is a DPS strategy; MoPPS takes topk, threshold or uniform")
            }
            try unit("target", target)
            try unit("lower", lower)
            try unit("upper", upper)
            guard lower <= upper else { throw .range("lower (\(lower)) must not exceed upper (\(upper))") }
            try decayRatio("decay", decay)
            try positive("prior_alpha", priorAlpha)
            try positive("prior_beta", priorBeta)
        case .dps:
            guard strategy != .threshold else {
                throw .invalid("strategy threshold is a MoPPS strategy; DPS takes topk, topk+entropy or uniform")
            }
            try positive("dps_prior_alpha", dpsPriorAlpha)
            try decayRatio("dps_transition_decay", dpsTransitionDecay)
            guard dpsEntropyWeight.isFinite else {
                throw .invalid("dps_entropy_weight must be a finite number, got \(dpsEntropyWeight)")
            }
            guard dpsEntropyWeight >= 0 else { throw .range("dps_entropy_weight must be >= 0, got \(dpsEntropyWeight)") }
        }
    }
}
