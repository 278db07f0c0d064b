/// Reading format 1 (promptsel 0.2): its payload began with a fixed binary config,
/// the C struct of that version without its size field, for both methods at once.
/// Frozen: only ever read, so new methods never appear here.
///
///     i32 method, i32 strategy, i32 no_update, u64 seed,
///     f64 target, lower, upper, decay, prior_alpha, prior_beta      (MoPPS)
///     i32 dps_prior_shape, i32 dps_prior_pi,
///     f64 dps_prior_alpha, dps_transition_decay, dps_entropy_weight   (DPS)
enum CheckpointFormatV1 {
    static let strategies = [1: "topk", 2: "threshold", 3: "uniform", 4: "topk+entropy"]
    static let shapes = [0: "constant", 1: "progress", 2: "stability", 3: "local"]
    static let beliefs = [0: "uniform", 1: "unsolved", 2: "partial", 3: "solved"]

    static func parameters(_ r: inout ByteReader, method type: any SelectionModel.Type) throws(PromptSelError) -> Parameters {
        let method = try r.i32("method")
        guard UInt32(bitPattern: method) == type.info.checkpointID else {
            throw .corrupt("checkpoint header and config disagree on the method")
        }
        guard let strategy = strategies[Int(try r.i32("strategy"))] else { throw .corrupt("unknown strategy in checkpoint") }
        let noUpdate = try r.i32("no_update") != 0
        let seed = try r.u64("seed")
        let mopps = (try r.f64(), try r.f64(), try r.f64(), try r.f64(), try r.f64(), try r.f64())
        guard let shape = shapes[Int(try r.i32())] else { throw .corrupt("unknown DPS prior shape in checkpoint") }
        guard let pi = beliefs[Int(try r.i32())] else { throw .corrupt("unknown DPS prior belief in checkpoint") }
        let dps = (try r.f64(), try r.f64(), try r.f64())

        var p = Parameters(specs: type.info.parameters)
        var values: [(String, ParameterValue)] = [("seed", .unsigned(seed)), ("strategy", .choice(strategy)),
                                                  ("no_update", .flag(noUpdate))]
        switch type.info.name {
        case "mopps":
            values += [("target", .real(mopps.0)), ("lower", .real(mopps.1)), ("upper", .real(mopps.2)),
                       ("decay", .real(mopps.3)), ("prior_alpha", .real(mopps.4)), ("prior_beta", .real(mopps.5))]
        case "dps":
            values += [("prior_shape", .choice(shape)), ("prior_pi", .choice(pi)), ("prior_alpha", .real(dps.0)),
                       ("transition_decay", .real(dps.1)), ("entropy_weight", .real(dps.2))]
        default:
            throw .corrupt("format 1 holds no \(type.info.name) checkpoints")
        }
        for (name, value) in values {
            do { try p.set(name, value) } catch { throw .corrupt("checkpoint holds an invalid configuration: \(error.message)") }
        }
        return p
    }
}
