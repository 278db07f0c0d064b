/// Maps arbitrary int64 prompt ids to dense indices 0, 1, 2, ... in first-seen order.
///
/// Open addressing with linear probing over an `Int32` slot array that stores dense
/// indices (the ids live once, in `ids`). Compared with `Dictionary<Int64, Int>`
/// this costs about a third of the memory per prompt (8 bytes of id plus 4-11 bytes
/// of slots) and its iteration order is the insertion order, which keeps
/// checkpoints and exports deterministic.
public struct PromptTable: Sendable {
    /// Ids in first-seen order; `ids[i]` is the id of dense index `i`.
    public private(set) var ids: [Int64] = []
    private var slots: [Int32] = []
    private var mask: Int = -1

    /// Dense indices are `Int32`: 2^31 - 1 prompts at most.
    public static let maxCount = Int(Int32.max)

    public init() {}

    public var count: Int { ids.count }

    @inline(__always)
    private static func hash(_ id: Int64) -> Int {
        // Fibonacci hashing with a fold: row ids are often consecutive integers.
        var z = UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        return Int(truncatingIfNeeded: z)
    }

    /// Dense index of `id`, or nil if it was never inserted.
    @inline(__always)
    public func index(of id: Int64) -> Int? {
        guard mask >= 0 else { return nil }
        var slot = PromptTable.hash(id) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 { return nil }
            if ids[Int(entry)] == id { return Int(entry) }
            slot = (slot + 1) & mask
        }
    }

    /// Dense index of `id`, inserting it at the end if new. The caller must append
    /// the new prompt's state to its own arrays when `inserted` is true.
    @inline(__always)
    public mutating func insert(_ id: Int64) -> (index: Int, inserted: Bool) {
        if (ids.count + 1) * 4 > slots.count * 3 { grow() }
        var slot = PromptTable.hash(id) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 { break }
            if ids[Int(entry)] == id { return (Int(entry), false) }
            slot = (slot + 1) & mask
        }
        let index = ids.count
        slots[slot] = Int32(truncatingIfNeeded: index)
        ids.append(id)
        return (index, true)
    }

    /// Room for `extra` more prompts before a bulk insert: one allocation and one
    /// rehash instead of a doubling cascade, which also keeps the arrays from ending
    /// up to twice as large as needed (the per-prompt memory budget). Grows by at
    /// least 1.5x so that repeated bulk calls stay amortized O(1) per prompt.
    public static func bulkCapacity(current: Int, count: Int, extra: Int) -> Int? {
        let need = count + extra
        guard need > current else { return nil }
        return max(need, current + current / 2)
    }

    /// Dense indices of a whole pool at once, inserting unknown ids when `insert` is
    /// true (else -1 for them). Equivalent to calling `insert`/`index(of:)` in order,
    /// but arranged in passes whose loads do not depend on each other (first probe
    /// slots of every id, then their ids), so that with a table much larger than the
    /// caches the misses of different candidates overlap instead of queueing.
    public mutating func resolve(_ pool: [Int64], insert: Bool) -> [Int] {
        let n = pool.count
        var out = [Int](repeating: -1, count: n)
        if insert, (ids.count + n) * 4 > slots.count * 3 {
            rehash(PromptTable.capacity(for: ids.count + n))
        }
        guard mask >= 0 else { return out }
        slots.withUnsafeBufferPointer { slots in
            ids.withUnsafeBufferPointer { known in
                var first = [Int32](repeating: -1, count: n)
                for i in 0..<n { first[i] = slots[PromptTable.hash(pool[i]) & mask] }
                for i in 0..<n where first[i] >= 0 && known[Int(first[i])] == pool[i] { out[i] = Int(first[i]) }
            }
        }
        // Collisions and new ids: the ordinary probe, in pool order.
        for i in 0..<n where out[i] < 0 {
            if insert { out[i] = self.insert(pool[i]).index } else { out[i] = index(of: pool[i]) ?? -1 }
        }
        return out
    }

    /// Smallest power-of-two slot count keeping the load at most 3/4 for `n` ids.
    static func capacity(for n: Int) -> Int {
        var capacity = 16
        while capacity * 3 < n * 4 { capacity *= 2 }
        return capacity
    }

    /// Reserves room for `n` prompts in total, so that bulk loads rehash once.
    public mutating func reserveCapacity(_ n: Int) {
        ids.reserveCapacity(n)
        let capacity = PromptTable.capacity(for: n)
        if capacity > slots.count { rehash(capacity) }
    }

    private mutating func grow() {
        rehash(max(16, slots.count * 2))
    }

    private mutating func rehash(_ capacity: Int) {
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (index, id) in ids.enumerated() {
            var slot = PromptTable.hash(id) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: index)
        }
    }

    /// Approximate heap bytes held, for the memory benchmark.
    public var allocatedBytes: Int { ids.capacity * 8 + slots.capacity * 4 }
}
