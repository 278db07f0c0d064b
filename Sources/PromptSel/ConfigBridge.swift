import CPromptSel
import PromptSelCore

extension SelectorConfig {
    /// Converts and validates a C config. Unknown enum values are invalid arguments.
    init(c: promptsel_config) throws(PromptSelError) {
        guard c.struct_size == UInt32(MemoryLayout<promptsel_config>.size) else {
            throw PromptSelError(.version, "promptsel_config.struct_size is \(c.struct_size), this library expects "
                + "\(MemoryLayout<promptsel_config>.size): initialise it with promptsel_config_init")
        }
        guard let method = SelectionMethod(rawValue: c.method) else {
            if c.method == PROMPTSEL_METHOD_GPS {
                throw PromptSelError(.unsupported, "method GPS (\(c.method)) is not available in this version")
            }
            throw PromptSelError(.invalidArgument, "unknown method \(c.method)")
        }
        guard let strategy = SelectionStrategy(rawValue: c.strategy) else {
            throw PromptSelError(.invalidArgument, "unknown strategy \(c.strategy)")
        }
        guard let shape = DPSPriorShape(rawValue: c.dps_prior_shape) else {
            throw PromptSelError(.invalidArgument, "unknown dps_prior_shape \(c.dps_prior_shape)")
        }
        guard let pi = DPSPriorPi(rawValue: c.dps_prior_pi) else {
            throw PromptSelError(.invalidArgument, "unknown dps_prior_pi \(c.dps_prior_pi)")
        }
        self.init(method: method)
        self.strategy = strategy
        noUpdate = c.no_update != 0
        seed = c.seed
        target = c.target
        lower = c.lower
        upper = c.upper
        decay = c.decay
        priorAlpha = c.prior_alpha
        priorBeta = c.prior_beta
        dpsPriorShape = shape
        dpsPriorPi = pi
        dpsPriorAlpha = c.dps_prior_alpha
        dpsTransitionDecay = c.dps_transition_decay
        dpsEntropyWeight = c.dps_entropy_weight
        try validate()
    }

    /// The C view of this config.
    var c: promptsel_config {
        var out = promptsel_config()
        out.struct_size = UInt32(MemoryLayout<promptsel_config>.size)
        out.method = method.rawValue
        out.strategy = strategy.rawValue
        out.no_update = noUpdate ? 1 : 0
        out.seed = seed
        out.target = target
        out.lower = lower
        out.upper = upper
        out.decay = decay
        out.prior_alpha = priorAlpha
        out.prior_beta = priorBeta
        out.dps_prior_shape = dpsPriorShape.rawValue
        out.dps_prior_pi = dpsPriorPi.rawValue
        out.dps_prior_alpha = dpsPriorAlpha
        out.dps_transition_decay = dpsTransitionDecay
        out.dps_entropy_weight = dpsEntropyWeight
        return out
    }
}
