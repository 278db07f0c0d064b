import Glibc
import PromptSelCore

/// Out of memory as PROMPTSEL_E_NO_MEMORY, never an abort: the Swift runtime aborts
/// the process when malloc returns NULL, so no allocation may be the first to learn
/// that memory is short. Every export whose allocations grow with its input or with
/// the selector first estimates its peak (the heap it needs beyond what the process
/// already holds) and tries to map that much memory (untouched, then unmapped).
/// If that fails it returns PROMPTSEL_E_NO_MEMORY before anything was copied or changed.
///
/// The estimates are upper bounds of the buffers each call holds at once (input
/// copies, temporaries, a table growing beside its old storage), with a margin. What
/// the probe sees: an address-space limit (RLIMIT_AS, ulimit -v) and the kernel's
/// refusal of an allocation that cannot be committed. What it cannot see: a cgroup
/// limit or the OOM killer, which act later on pages as they are touched.
enum MemoryPreflight {
    /// Below this an estimate is not probed: a process that cannot allocate a few MiB
    /// fails in its own code anyway, and small steps keep costing nothing.
    static let floor = 4 << 20
    /// Temporaries of fixed size (DPS's blocks of 2^14 states, the checkpoint reader's
    /// window, the feature model's matrices).
    static let fixed = 8 << 20

    /// Throws PROMPTSEL_E_NO_MEMORY unless `bytes` (plus a margin) can be allocated now.
    static func probe(_ bytes: Int, _ what: @autoclosure () -> String) throws(PromptSelError) {
        guard bytes >= floor else { return }
        let (withMargin, overflow) = bytes.addingReportingOverflow(bytes / 4 + fixed)
        // An anonymous writable mapping, untouched, then unmapped: what a large malloc
        // asks the kernel for (address space and commit), without glibc's side effects
        // and without a malloc/free pair the compiler may remove.
        if !overflow {
            let p = mmap(nil, withMargin, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if let p, p != MAP_FAILED {
                munmap(p, withMargin)
                return
            }
        }
        throw refusal(bytes, what())
    }

    /// Whether `bytes` (plus the margin) can be allocated now.
    static func fits(_ bytes: Int) -> Bool { (try? probe(bytes, "")) != nil }

    static func refusal(_ bytes: Int, _ what: String) -> PromptSelError {
        let mib = (bytes + (1 << 20) - 1) >> 20
        return PromptSelError(.noMemory, "\(what) needs about \(mib) MiB more memory than can be allocated now; "
            + "nothing was changed")
    }

    // MARK: - Estimates (bytes beyond what the process holds)

    /// A table gaining `new` prompts: its entries reallocated beside the old ones (up
    /// to twice the new total, as an array doubles) and its Int32 slots rehashed (at
    /// most 8/3 slots per prompt). `entryBytes` includes a feature method's rows.
    static func growth(_ s: PromptSelector, new: Int) -> Int {
        guard new > 0 else { return 0 }
        let total = s.count + new
        return 2 * total * s.entryBytes + 11 * total
    }

    static func isFeatureMethod(_ s: PromptSelector) -> Bool { s.model.featureDim > 0 }

    /// Floats per prompt of a feature method's projected row (rank + 1).
    static func phiWidth(_ s: PromptSelector) -> Int {
        isFeatureMethod(s) ? min(s.parameters.integer("rank"), s.model.featureDim) + 1 : 0
    }

    /// New prompts a call with `ids` may add: all of them for the upper bound, else
    /// the ids the table does not hold (ids at NULL: the call fails before allocating).
    static func newPrompts(_ s: PromptSelector, _ ids: UnsafePointer<Int64>?, _ n: Int, precise: Bool) -> Int {
        guard precise, let ids else { return n }
        return s.model.unknownCount(UnsafeBufferPointer(start: ids, count: n))
    }

    /// create: a feature method's random projection (rank x dim floats, drawn through
    /// a temporary) and its precision matrices; nothing per prompt yet.
    static func create(_ p: Parameters) -> Int {
        guard p.specs.contains(where: { $0.name == "dim" }), p.specs.contains(where: { $0.name == "rank" }) else { return 0 }
        let dim = p.integer("dim"), rank = min(p.integer("rank"), dim), d = rank + 1
        return 8 * rank * dim + 32 * d * d
    }

    /// select: the candidates' copy, per-candidate temporaries (lookups, scores, keys,
    /// tie-breaks, orders; feature methods also row slices), the table growing by the
    /// unseen candidates (a pool larger than the table reserves room for all of it),
    /// and the outputs.
    static func select(_ s: PromptSelector, _ ids: UnsafePointer<Int64>?, n: Int, batch: Int,
                       precise: Bool) -> Int {
        let feature = isFeatureMethod(s)
        let grows = feature ? 0 : (n > s.count ? n : newPrompts(s, ids, n, precise: precise))
        let diverse = feature && s.parameters.real("diversity") > 0  // row slices of every candidate
        return 8 * n + (diverse ? 96 : 56) * n + growth(s, new: grows)
            + batch * (48 + 8 * s.info.state.count)
    }

    /// update: the three input copies, lookups, the new prompts (mopps, dps), and for
    /// the feature methods the step's rows twice (float and transposed double) with
    /// the Newton iterations' vectors.
    static func update(_ s: PromptSelector, _ ids: UnsafePointer<Int64>?, n: Int, precise: Bool) -> Int {
        if isFeatureMethod(s) { return 20 * n + n * (12 * phiWidth(s) + 112) }
        return 20 * n + 48 * n + growth(s, new: newPrompts(s, ids, n, precise: precise))
    }

    /// set_features: the ids copied (the rows are read in place, never copied), the
    /// table and the feature store growing by the new prompts (each store reserves its
    /// growth once, so its old buffer and the new one coexist for a moment).
    static func setFeatures(_ s: PromptSelector, _ ids: UnsafePointer<Int64>?, n: Int, dim: Int,
                            precise: Bool) -> Int {
        guard isFeatureMethod(s) else { return 0 }
        return 8 * n + 4 * dim + 4 * n * phiWidth(s) + 24 * n
            + growth(s, new: newPrompts(s, ids, n, precise: precise))
    }

    /// set_state / warm_start: the copies, the decoded rows, the new prompts.
    static func importRows(_ s: PromptSelector, _ ids: UnsafePointer<Int64>?, n: Int, valuesPerId: Int,
                           precise: Bool) -> Int {
        8 * n + 8 * valuesPerId * n + n * (256 + 8 * valuesPerId)
            + growth(s, new: newPrompts(s, ids, n, precise: precise))
    }

    /// Reads (predict, predict_std, get_state, allocate): `perId` bytes per id.
    static func read(n: Int, perId: Int) -> Int { n * perId }

    /// serialize / save: the checkpoint's exact bytes (reserved once) and what the
    /// encoders copy on the way (the id list; dps also its records).
    static func serialize(_ s: PromptSelector, size: Int) -> Int {
        size + (isFeatureMethod(s) ? 0 : s.count * (8 + s.entryBytes))
    }

    /// deserialize / from_bytes / load: the state a checkpoint of `size` bytes
    /// becomes, as a multiple of its size per method (mopps: 24-byte entries plus hash
    /// slots; dps: 144-byte entries for 140 bytes; the feature methods: the rows read,
    /// then stored, with their projections and the id set). Zero for input the decoder
    /// refuses before allocating (a header that is not a checkpoint's or whose length
    /// disagrees with the size; a size beyond physical memory), so that it keeps
    /// reporting what is wrong with it.
    static func load(size: Int, header: [UInt8]) -> Int {
        // Header (24 bytes) and checksum (4) around the payload length at offset 16.
        guard size >= 28, size <= AtomicFile.physicalMemory, header.count >= 24,
              Array(header[0..<8]) == Array("PSELCKPT".utf8), le(header, 16, 8) == UInt64(size - 28) else { return 0 }
        let method = UInt32(le(header, 12, 4))
        let factor: Double = method == MoPPSModel.info.checkpointID ? 2
            : method == DPSModel.info.checkpointID ? 1.5 : 4
        return Int(Double(size) * factor)
    }

    /// The little-endian unsigned integer of `width` bytes at `offset`.
    static func le(_ b: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
        (0..<width).reduce(UInt64(0)) { $0 | UInt64(b[offset + $1]) << (8 * UInt64($1)) }
    }
}

extension SelectorHandle {
    /// Probes `estimate(selector, precise)` under the lock: first the upper bound
    /// (cheap: from sizes alone); only if that cannot be allocated, the precise one
    /// (it looks the ids up), so a call is refused only when its real need does not fit.
    func preflight(_ what: @autoclosure () -> String,
                   _ estimate: (PromptSelector, Bool) -> Int) throws(PromptSelError) {
        try withLock { s throws(PromptSelError) in
            let upper = estimate(s, false)
            if MemoryPreflight.fits(upper) { return }
            let exact = estimate(s, true)
            let m = "\(what()) (\(s.info.name), \(s.count) prompts tracked)"
            guard exact < upper else { throw MemoryPreflight.refusal(upper, m) }
            try MemoryPreflight.probe(exact, m)
        }
    }
}
