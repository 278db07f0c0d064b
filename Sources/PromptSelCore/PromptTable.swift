/// The per-prompt state of a model, keyed by arbitrary int64 prompt ids, stored
/// densely in first-seen order.
///
/// Each entry holds the id next to the model's value, so a lookup touches the slot
/// array and then the entry, which both confirms the id and brings in the state
/// (two cache misses, not three). Open addressing with linear probing over an
/// `Int32` slot array of dense indices: 4-11 bytes of slots per prompt, against
/// about three times that for `Dictionary<Int64, Int>`, and the iteration order is
/// the insertion order, which keeps checkpoints and exports deterministic.
/// Dense indices are `Int32`: 2^31 - 1 prompts at most.
public let maxPrompts = Int(Int32.max)

public struct PromptTable<Value: BitwiseCopyable>: @unchecked Sendable {
    public struct Entry {
        public var id: Int64
        public var value: Value
    }

    /// Entries in first-seen order; dense index `i` is `entries[i]`. Models update
    /// values in place; ids and order are the table's.
    var entries: [Entry] = []
    private var slots: [Int32] = []
    private var mask: Int = -1

    public init() {}

    public var count: Int { entries.count }

    /// Ids in first-seen order.
    public var ids: [Int64] { entries.map(\.id) }

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
            if entries[Int(entry)].id == id { return Int(entry) }
            slot = (slot + 1) & mask
        }
    }

    /// Dense index of `id`, appending it with `value` if new.
    @inline(__always)
    public mutating func insert(_ id: Int64, _ value: Value) -> (index: Int, inserted: Bool) {
        if (entries.count + 1) * 4 > slots.count * 3 { grow() }
        var slot = PromptTable.hash(id) & mask
        while true {
            let entry = slots[slot]
            if entry < 0 { break }
            if entries[Int(entry)].id == id { return (Int(entry), false) }
            slot = (slot + 1) & mask
        }
        let index = entries.count
        slots[slot] = Int32(truncatingIfNeeded: index)
        entries.append(Entry(id: id, value: value))
        return (index, true)
    }

    /// Room for `extra` more prompts before a bulk insert: one allocation and one
    /// rehash instead of a doubling cascade, which also keeps the entries from
    /// ending up to twice as large as needed (the per-prompt memory budget). Grows by
    /// at least 1.5x so that repeated bulk calls stay amortized O(1) per prompt.
    public mutating func reserve(extra: Int) {
        let need = count + extra
        guard need > entries.capacity else { return }
        reserveCapacity(max(need, entries.capacity + entries.capacity / 2))
    }

    /// Dense indices of a whole pool at once, inserting unknown ids with `fresh` when
    /// given (else -1 for them). Equivalent to `insert`/`index(of:)` in pool order,
    /// but arranged in passes whose loads do not depend on each other (first the
    /// probe slots of every id, then their entries), so that with a table much
    /// larger than the caches the misses of different candidates overlap.
    public mutating func resolve(_ pool: [Int64], inserting fresh: Value?) -> [Int] {
        let n = pool.count
        var out = [Int](repeating: -1, count: n)
        if fresh != nil, (entries.count + n) * 4 > slots.count * 3 {
            rehash(PromptTable.capacity(for: entries.count + n))
        }
        guard mask >= 0 else { return out }
        slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { known in
                var first = [Int32](repeating: -1, count: n)
                for i in 0..<n { first[i] = slots[PromptTable.hash(pool[i]) & mask] }
                for i in 0..<n where first[i] >= 0 && known[Int(first[i])].id == pool[i] { out[i] = Int(first[i]) }
            }
        }
        // Collisions and new ids: the ordinary probe, in pool order.
        for i in 0..<n where out[i] < 0 {
            if let fresh { out[i] = insert(pool[i], fresh).index } else { out[i] = index(of: pool[i]) ?? -1 }
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
        entries.reserveCapacity(n)
        let capacity = PromptTable.capacity(for: n)
        if capacity > slots.count { rehash(capacity) }
    }

    private mutating func grow() {
        rehash(max(16, slots.count * 2))
    }

    private mutating func rehash(_ capacity: Int) {
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (index, entry) in entries.enumerated() {
            var slot = PromptTable.hash(entry.id) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(truncatingIfNeeded: index)
        }
    }

    /// Bytes of one entry (the id beside the model's value), slots not included.
    public static var entryBytes: Int { MemoryLayout<Entry>.stride }

    /// Approximate heap bytes held, for the memory benchmark.
    public var allocatedBytes: Int { entries.capacity * MemoryLayout<Entry>.stride + slots.capacity * 4 }

    /// Builds a table from ids in order (a checkpoint); nil if an id repeats.
    static func load(ids: [Int64], values: [Value]) -> PromptTable? {
        var table = PromptTable()
        table.reserveCapacity(ids.count)
        for (id, value) in zip(ids, values) where !table.insert(id, value).inserted { return nil }
        return table
    }
}
