@testable import PromptSelCore

// The tests were written against 0.2's typed config and per-method accessors; these
// shims express that vocabulary through the generic API (parameters by name, the
// model behind `model(as:)`), so each assertion stays as it was written.

enum SelectionMethod: String { case mopps, dps }

enum SelectionStrategy: String, CaseIterable, Sendable {
    case topk, threshold, uniform
    case topkEntropy = "topk+entropy"
}

struct SelectorConfig: Equatable, Sendable {
    var method: SelectionMethod
    var strategy: SelectionStrategy = .topk
    var noUpdate = false
    var seed: UInt64 = 0
    var target = 0.5, lower = 0.3, upper = 0.7, decay = 1.0, priorAlpha = 1.0, priorBeta = 1.0
    var dpsPriorShape: DPSPriorShape = .constant
    var dpsPriorPi: DPSPriorPi = .uniform
    var dpsPriorAlpha = 1.0, dpsTransitionDecay = 1.0, dpsEntropyWeight = 0.0

    init(method: SelectionMethod) { self.method = method }

    var params: String {
        var items = ["seed=\(seed)", "strategy=\(strategy.rawValue)", "no_update=\(noUpdate)"]
        switch method {
        case .mopps:
            items += ["target=\(target)", "lower=\(lower)", "upper=\(upper)", "decay=\(decay)",
                      "prior_alpha=\(priorAlpha)", "prior_beta=\(priorBeta)"]
        case .dps:
            items += ["prior_shape=\(dpsPriorShape.rawValue)", "prior_pi=\(dpsPriorPi.rawValue)",
                      "prior_alpha=\(dpsPriorAlpha)", "transition_decay=\(dpsTransitionDecay)",
                      "entropy_weight=\(dpsEntropyWeight)"]
        }
        return items.joined(separator: " ")
    }

    var parameters: Parameters {
        get throws(PromptSelError) {
            let type = try MethodRegistry.model(named: method.rawValue)
            return try Parameters(specs: type.info.parameters, text: params, method: method.rawValue)
        }
    }

    func with(_ edit: (inout SelectorConfig) -> Void) -> SelectorConfig {
        var c = self
        edit(&c)
        return c
    }
}

extension PromptSelector {
    convenience init(config c: SelectorConfig) throws(PromptSelError) {
        try self.init(method: c.method.rawValue, params: c.params)
    }

    func posterior(_ ids: [Int64]) throws(PromptSelError) -> (alpha: [Double], beta: [Double]) {
        let p = try model(as: MoPPSModel.self).posterior(ids)
        return (p.map(\.alpha), p.map(\.beta))
    }

    func stateProbs(_ ids: [Int64]) throws(PromptSelError) -> [SIMD3<Double>] {
        try model(as: DPSModel.self).current(ids).map(\.pi)
    }

    func dpsStates(_ ids: [Int64]) throws(PromptSelError) -> [(state: DPSPromptState, sampled: UInt32)] {
        let m = try model(as: DPSModel.self)
        let rows = m.state(ids)
        return (0..<ids.count).map { i in
            let (s, t) = try! DPSModel.state(row: Array(rows[(16 * i)..<(16 * i + 16)]), id: ids[i])
            return (s, t)
        }
    }

    func setDPSStates(ids: [Int64], states: [DPSPromptState], sampled: [Int64]) throws(PromptSelError) {
        let rows = zip(states, sampled).flatMap { s, t in
            [s.pi[0], s.pi[1], s.pi[2]] + (0..<9).map { s.alpha.v[$0] } + [s.piBefore[0], s.piBefore[1], s.piBefore[2], Double(t)]
        }
        try setState(ids: ids, rows: rows)
    }

    func dpsUpdateStats() throws(PromptSelError) -> DPSUpdateStats { try model(as: DPSModel.self).lastUpdate }

    func dpsSummary() throws(PromptSelError) -> DPSSummary { try model(as: DPSModel.self).summary() }
}

extension DPSModel {
    convenience init(config c: SelectorConfig) {
        try! self.init(c.parameters)
    }
}
