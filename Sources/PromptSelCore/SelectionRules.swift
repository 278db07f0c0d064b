/// Batch selection rules shared by the methods. Inputs are per-candidate values
/// indexed by candidate position; outputs are chosen positions.
public enum SelectionRules {
    /// The `k` positions with the smallest keys, ordered by (key, tiebreak, position).
    /// O(n log k) with a bounded max-heap of packed (key, tiebreak, position)
    /// entries: the scan compares each candidate's key with the root's, in cache,
    /// and only the few that beat it are sifted in.
    public static func smallest(_ k: Int, keys: [Double], tiebreak: [UInt64]? = nil) -> [Int] {
        let n = keys.count
        let k = min(max(k, 0), n)
        guard k > 0 else { return [] }
        return keys.withUnsafeBufferPointer { key in
            if let tiebreak {
                return tiebreak.withUnsafeBufferPointer { tb in
                    heapSelect(k, n) { Ranked(key: key[$0], tiebreak: tb[$0], position: $0) }
                }
            }
            return heapSelect(k, n) { Ranked(key: key[$0], tiebreak: 0, position: $0) }
        }
    }

    /// A candidate as the heap orders it: by key, then tiebreak, then position.
    struct Ranked: Comparable {
        var key: Double
        var tiebreak: UInt64
        var position: Int

        @inline(__always)
        static func < (a: Ranked, b: Ranked) -> Bool {
            if a.key != b.key { return a.key < b.key }
            if a.tiebreak != b.tiebreak { return a.tiebreak < b.tiebreak }
            return a.position < b.position
        }
    }

    /// The `k` (1 ... n) smallest of `entry(0) ..< entry(n)`, sorted.
    @inline(__always)
    static func heapSelect(_ k: Int, _ n: Int, _ entry: (Int) -> Ranked) -> [Int] {
        var heap = (0..<k).map(entry)
        heap.withUnsafeMutableBufferPointer { h in
            // Max-heap: the root is the worst of the k best so far.
            @inline(__always) func siftDown(_ start: Int) {
                var i = start
                let item = h[i]
                while true {
                    let l = 2 * i + 1
                    if l >= k { break }
                    var m = l
                    if l + 1 < k && h[l] < h[l + 1] { m = l + 1 }
                    if !(item < h[m]) { break }
                    h[i] = h[m]
                    i = m
                }
                h[i] = item
            }
            for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i) }
            if k < n {
                for p in k..<n {
                    let e = entry(p)
                    if e < h[0] {
                        h[0] = e
                        siftDown(0)
                    }
                }
            }
            h.sort()
        }
        return heap.map(\.position)
    }

    /// `k` distinct positions of `0..<n` uniformly at random, in random order
    /// (a partial Fisher–Yates shuffle).
    public static func uniform(n: Int, k: Int, rng: inout Xoshiro256StarStar) -> [Int] {
        var order = Array(0..<n)
        return partialShuffle(&order, k, &rng)
    }

    /// Moves a uniformly random `k`-subset of `items` to the front, in random order,
    /// and returns it.
    static func partialShuffle(_ items: inout [Int], _ k: Int, _ rng: inout Xoshiro256StarStar) -> [Int] {
        shufflePrefix(&items, k, &rng)
        return Array(items[0..<min(k, items.count)])
    }

    /// Forward Fisher–Yates over the first `k` positions: for i in 0..<k, swap item i
    /// with item i + U(count - i), U(m) uniform in [0, m) (`nextBelow`: Lemire's
    /// method, unbiased; a bound of 1 draws nothing).
    static func shufflePrefix<T>(_ items: inout [T], _ k: Int, _ rng: inout Xoshiro256StarStar) {
        let k = min(k, items.count)
        for i in 0..<k {
            let j = i + rng.nextBelow(items.count - i)
            items.swapAt(i, j)
        }
    }

    /// A uniformly random permutation of `items`, in place (every one of the n!
    /// equally likely): Fisher–Yates with `count - 1` bounded draws.
    public static func shuffle<T>(_ items: inout [T], rng: inout Xoshiro256StarStar) {
        shufflePrefix(&items, items.count, &rng)
    }

    /// MoPPS `threshold`: uniformly random `k` of the draws inside [lower, upper]
    /// if there are at least `k`; otherwise all of them (in position order), then
    /// the others nearest the interval.
    public static func threshold(draws: [Double], k: Int, lower: Double, upper: Double,
                                 rng: inout Xoshiro256StarStar) -> [Int] {
        var inside: [Int] = []
        for (p, r) in draws.enumerated() where r >= lower && r <= upper { inside.append(p) }
        if inside.count >= k { return partialShuffle(&inside, k, &rng) }
        // Distance to the interval; inside positions get -1 so they come first.
        let distance = draws.map { r -> Double in
            r < lower ? lower - r : (r > upper ? r - upper : -1)
        }
        return smallest(k, keys: distance)
    }

    /// MoPPS `topk`: the `k` draws nearest `target`, nearest first.
    public static func nearest(draws: [Double], k: Int, target: Double) -> [Int] {
        smallest(k, keys: draws.map { ($0 - target) * ($0 - target) })
    }
}
