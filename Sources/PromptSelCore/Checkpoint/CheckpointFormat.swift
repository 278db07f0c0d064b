/// The native checkpoint: the whole selector state as bytes.
///
///     offset  size  field
///     0       8     magic "PSELCKPT"
///     8       4     format version (u32, currently 1)
///     12      4     method (u32, PROMPTSEL_METHOD_*)
///     16      8     payload length L (u64)
///     24      L     payload: config, generator, step count, model
///     24+L    4     CRC-32 of bytes [0, 24+L)
///
/// All integers and doubles are little-endian; doubles are stored bit-exactly so a
/// restored selector continues exactly where the saved one stopped.
extension PromptSelector {
    static let magic: [UInt8] = Array("PSELCKPT".utf8)
    public static let checkpointFormatVersion: UInt32 = 1
    static let headerSize = 24

    /// The serialized state.
    public func serialized() -> [UInt8] {
        var w = ByteWriter(reserving: PromptSelector.headerSize + 4 + 256 + count * 32)
        w.raw(PromptSelector.magic)
        w.u32(PromptSelector.checkpointFormatVersion)
        w.u32(UInt32(bitPattern: config.method.rawValue))
        w.u64(0)  // payload length, patched below
        encodeConfig(&w)
        let s = rng.state
        w.u64(s.0); w.u64(s.1); w.u64(s.2); w.u64(s.3)
        w.u64(steps)
        switch model {
        case .mopps(let m):
            w.u64(UInt64(m.count))
            w.i64s(m.table.ids)
            for e in m.table.entries { w.f64(e.value.alpha) }
            for e in m.table.entries { w.f64(e.value.beta) }
        case .dps(let m):
            w.u32(m.step)
            w.u64(m.lastUpdate.observed)
            for c in m.lastUpdate.confusion { w.u64(c) }
            w.u64(UInt64(m.count))
            w.i64s(m.table.ids)
            let records = m.table.entries.map(\.value)
            for r in records {
                w.f64(r.a0); w.f64(r.a1); w.f64(r.a2); w.f64(r.a3); w.f64(r.a4)
                w.f64(r.a5); w.f64(r.a6); w.f64(r.a7); w.f64(r.a8)
            }
            for r in records { w.f64(r.p0); w.f64(r.p1); w.f64(r.p2) }
            for r in records { w.f64(r.b0); w.f64(r.b1); w.f64(r.b2) }
            for r in records { w.u32(r.sampled) }
            for r in records { w.u32(r.lastStep) }
            for r in records { w.u32(r.exactLeft) }
        }
        w.patchU64(UInt64(w.bytes.count - PromptSelector.headerSize), at: 16)
        w.u32(CRC32.checksum(w.bytes))
        return w.bytes
    }

    /// Rebuilds a selector from `serialized()` bytes. Any defect (wrong magic,
    /// truncation, checksum, invalid values, duplicate ids) throws; nothing is shared
    /// with an existing selector.
    public static func deserialize(_ bytes: [UInt8]) throws(PromptSelError) -> PromptSelector {
        let minimum = headerSize + 4
        guard bytes.count >= minimum else {
            throw .corrupt("checkpoint is truncated: \(bytes.count) bytes, a header alone needs \(minimum)")
        }
        guard Array(bytes[0..<8]) == magic else {
            throw .corrupt("not a promptsel checkpoint (bad magic)")
        }
        var header = ByteReader(bytes, from: 8, to: headerSize)
        let version = try header.u32()
        guard version == checkpointFormatVersion else {
            throw PromptSelError(.version, "checkpoint format version \(version) is not supported "
                + "(this library reads version \(checkpointFormatVersion))")
        }
        let method = try header.u32()
        let length = try header.u64()
        guard length == UInt64(bytes.count - minimum) else {
            throw .corrupt("checkpoint is truncated or has trailing bytes: payload says \(length) bytes, "
                + "file holds \(bytes.count - minimum)")
        }
        let end = bytes.count - 4
        var tail = ByteReader(bytes, from: end)
        let stored = try tail.u32()
        let actual = CRC32.checksum(bytes, 0..<end)
        guard stored == actual else {
            throw .corrupt("checkpoint checksum mismatch (stored \(stored), computed \(actual)): the file is damaged")
        }

        var r = ByteReader(bytes, from: headerSize, to: end)
        let config = try decodeConfig(&r)
        guard UInt32(bitPattern: config.method.rawValue) == method else {
            throw .corrupt("checkpoint header and config disagree on the method")
        }
        let selector: PromptSelector
        do { selector = try PromptSelector(config: config) } catch {
            throw .corrupt("checkpoint holds an invalid config: \(error.message)")
        }
        let s = (try r.u64(), try r.u64(), try r.u64(), try r.u64())
        guard let rng = Xoshiro256StarStar(state: s) else { throw .corrupt("checkpoint holds an all-zero generator state") }
        selector.rng = rng
        selector.steps = try r.u64("step count")
        switch selector.model {
        case .mopps(let m):
            let n = try count(&r, bytesPerPrompt: 24)
            let ids = try r.i64s(n, "ids")
            let a = try r.f64s(n, "alpha")
            let b = try r.f64s(n, "beta")
            for i in 0..<n where !(SelectorConfig.countRange.contains(a[i]) && SelectorConfig.countRange.contains(b[i])) {
                throw .corrupt("checkpoint holds an invalid posterior (\(a[i]), \(b[i])) for id \(ids[i])")
            }
            let values = (0..<n).map { MoPPSModel.Posterior(alpha: a[$0], beta: b[$0]) }
            guard let table = PromptTable.load(ids: ids, values: values) else { throw .corrupt("checkpoint lists an id twice") }
            m.table = table
        case .dps(let m):
            m.step = try r.u32("DPS step")
            m.lastUpdate.observed = try r.u64()
            for k in 0..<9 { m.lastUpdate.confusion[k] = try r.u64() }
            let n = try count(&r, bytesPerPrompt: 140)
            let ids = try r.i64s(n, "ids")
            let flat = try r.f64s(n * 15, "DPS state")
            var states: [DPSPromptState] = []
            states.reserveCapacity(n)
            for i in 0..<n {
                var a = SIMD16<Double>.zero
                for k in 0..<9 { a[k] = flat[9 * i + k] }
                let o = 9 * n + 3 * i, b = 12 * n + 3 * i
                states.append(DPSPromptState(alpha: TransitionCounts(lanes: a),
                                             pi: SIMD3(flat[o], flat[o + 1], flat[o + 2]),
                                             piBefore: SIMD3(flat[b], flat[b + 1], flat[b + 2])))
            }
            var sampled = [UInt32](repeating: 0, count: n), last = sampled, exact = sampled
            for i in 0..<n { sampled[i] = try r.u32() }
            for i in 0..<n { last[i] = try r.u32() }
            for i in 0..<n { exact[i] = try r.u32() }
            for i in 0..<n {
                let a = states[i].alpha.v
                let ok = (0..<9).allSatisfy { a[$0] >= 0 && a[$0] <= SelectorConfig.maxCount }
                    && (0..<3).allSatisfy { a[$0] + a[3 + $0] + a[6 + $0] > 0 }
                    && [states[i].pi, states[i].piBefore].allSatisfy { p in (0..<3).allSatisfy { p[$0].isFinite && p[$0] >= 0 } }
                guard ok, last[i] <= m.step, Int(exact[i]) <= m.settleSteps else { throw .corrupt("checkpoint holds an invalid DPS state for id \(ids[i])") }
            }
            let values = (0..<n).map { DPSRecord(states[$0], sampled: sampled[$0], lastStep: last[$0], exactLeft: exact[$0]) }
            guard let table = PromptTable.load(ids: ids, values: values) else { throw .corrupt("checkpoint lists an id twice") }
            m.table = table
        }
        guard r.remaining == 0 else { throw .corrupt("checkpoint has \(r.remaining) unexpected bytes at the end") }
        return selector
    }

    /// Reads a prompt count and checks it against the bytes that remain.
    private static func count(_ r: inout ByteReader, bytesPerPrompt: Int) throws(PromptSelError) -> Int {
        let n = try r.u64("prompt count")
        guard n <= UInt64(maxPrompts), Int(n) * bytesPerPrompt <= r.remaining else {
            throw .corrupt("checkpoint claims \(n) prompts but holds only \(r.remaining) bytes of them")
        }
        return Int(n)
    }

    private func encodeConfig(_ w: inout ByteWriter) {
        let c = config
        w.i32(c.method.rawValue); w.i32(c.strategy.rawValue); w.i32(c.noUpdate ? 1 : 0)
        w.u64(c.seed)
        w.f64(c.target); w.f64(c.lower); w.f64(c.upper); w.f64(c.decay)
        w.f64(c.priorAlpha); w.f64(c.priorBeta)
        w.i32(c.dpsPriorShape.rawValue); w.i32(c.dpsPriorPi.rawValue)
        w.f64(c.dpsPriorAlpha); w.f64(c.dpsTransitionDecay); w.f64(c.dpsEntropyWeight)
    }

    private static func decodeConfig(_ r: inout ByteReader) throws(PromptSelError) -> SelectorConfig {
        guard let method = SelectionMethod(rawValue: try r.i32("method")) else { throw .corrupt("unknown method in checkpoint") }
        var c = SelectorConfig(method: method)
        guard let strategy = SelectionStrategy(rawValue: try r.i32("strategy")) else { throw .corrupt("unknown strategy in checkpoint") }
        c.strategy = strategy
        c.noUpdate = try r.i32("no_update") != 0
        c.seed = try r.u64("seed")
        c.target = try r.f64(); c.lower = try r.f64(); c.upper = try r.f64(); c.decay = try r.f64()
        c.priorAlpha = try r.f64(); c.priorBeta = try r.f64()
        guard let shape = DPSPriorShape(rawValue: try r.i32()) else { throw .corrupt("unknown DPS prior shape in checkpoint") }
        guard let pi = DPSPriorPi(rawValue: try r.i32()) else { throw .corrupt("unknown DPS prior belief in checkpoint") }
        c.dpsPriorShape = shape; c.dpsPriorPi = pi
        c.dpsPriorAlpha = try r.f64(); c.dpsTransitionDecay = try r.f64(); c.dpsEntropyWeight = try r.f64()
        return c
    }
}
