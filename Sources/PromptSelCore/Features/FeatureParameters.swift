/// What gps and hybrid share: the settings of the feature model, its checkpoint
/// payload, and the prediction-quality metrics of a step.
public enum FeatureParameters {
    public static let specs: [ParameterSpec] = [
        .integer("dim", 256, in: 1...1024, "dimension of the prompt feature vectors (set_features rows)"),
        .integer("rank", 64, in: 1...256, "size of the fixed random projection of the features the model sees"),
        .real("prior_variance", 4.0, in: 1e-6...1e6, "prior variance of each weight of the logistic model"),
        .real("forget", 0.95, in: 0...1, minOpen: true,
              "precision discount towards the prior per step, so the model tracks the moving policy (1: never)"),
    ]

    public static let stepMetrics: [MethodInfo.Metric] = [
        .init("observed", .step, "prompts observed in the last update"),
        .init("brier", .step, "mean squared error of the predicted success rates of the last update's prompts"),
        .init("mean_predicted", .step, "mean predicted success rate of those prompts, before the update"),
        .init("mean_observed", .step, "their mean observed success rate"),
    ]

    static func model(_ p: Parameters) -> BayesianLogistic {
        BayesianLogistic(dim: p.integer("dim"), rank: p.integer("rank"), priorVariance: p.real("prior_variance"),
                         forget: p.real("forget"), seed: p.unsigned("seed"))
    }

    static func encode(_ m: BayesianLogistic, _ w: inout ByteWriter) {
        w.f64s(m.mean)
        w.f64s(m.precision)
    }

    static func decode(_ m: inout BayesianLogistic, _ r: inout ByteReader) throws(PromptSelError) {
        let d = m.size
        let mean = try r.f64s(d, "model mean")
        let precision = try r.f64s(d * d, "model precision")
        guard m.restore(mean: mean, precision: precision) else {
            throw .corrupt("checkpoint holds an invalid feature model (its precision must be finite, symmetric, "
                + "positive definite)")
        }
    }
}

/// How well the feature model predicted the prompts of the last update.
public struct FeatureStepStats: Sendable {
    var observed = 0.0, brier = Double.nan, meanPredicted = Double.nan, meanObserved = Double.nan

    public init() {}

    init(model: BayesianLogistic, features: FeatureStore, rows: [Int], rates: [Double]) {
        guard !rows.isEmpty else { return }
        var se = 0.0, sp = 0.0, so = 0.0
        for (r, s) in zip(rows, rates) {
            let p = model.predict(features.phiRow(r)).mean
            se += (p - s) * (p - s)
            sp += p
            so += s
        }
        let n = Double(rows.count)
        (observed, brier, meanPredicted, meanObserved) = (n, se / n, sp / n, so / n)
    }

    var values: [Double] { [observed, brier, meanPredicted, meanObserved] }

    func encode(_ w: inout ByteWriter) { w.f64s(values) }

    static func decode(_ r: inout ByteReader) throws(PromptSelError) -> FeatureStepStats {
        let v = try r.f64s(4, "step statistics")
        var s = FeatureStepStats()
        guard v[0] >= 0, v[0] <= Double(maxPrompts), v[0].rounded() == v[0] else {
            throw .corrupt("checkpoint holds invalid step statistics")
        }
        (s.observed, s.brier, s.meanPredicted, s.meanObserved) = (v[0], v[1], v[2], v[3])
        return s
    }
}
