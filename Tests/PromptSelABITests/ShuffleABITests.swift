import CPromptSel
import Testing
import PromptSel
@testable import PromptSelCore

@Suite("promptsel_selector_shuffle")
struct ShuffleABITests {
    @Test("serialize, deserialize, shuffle: the same permutations as the uninterrupted handle")
    func restored() throws {
        let a = try makeSelector(seed: 21, method: "mopps", "strategy=uniform")
        defer { promptsel_selector_free(a) }
        var warm = Array(Int64(0)..<30)
        #expect(promptsel_selector_shuffle(a, &warm, warm.count) == PROMPTSEL_OK)
        let bytes = serialize(a)
        var b: OpaquePointer?
        #expect(promptsel_selector_from_bytes(&b, bytes, bytes.count) == PROMPTSEL_OK)
        defer { promptsel_selector_free(b) }
        for round in 0..<4 {
            var x = (0..<64).map { Int64($0 * 3 + round) }, y = x
            #expect(promptsel_selector_shuffle(a, &x, x.count) == PROMPTSEL_OK)
            #expect(promptsel_selector_shuffle(b!, &y, y.count) == PROMPTSEL_OK)
            #expect(x == y && x != (0..<64).map { Int64($0 * 3 + round) })
            #expect(x.sorted() == (0..<64).map { Int64($0 * 3 + round) })
        }
        #expect(serialize(a) == serialize(b!))
    }

    @Test("bad arguments change nothing; n == 0 is a no-op with NULL values")
    func badArguments() throws {
        let sel = try makeSelector(seed: 4, method: "dps")
        defer { promptsel_selector_free(sel) }
        let before = serialize(sel)
        var v: [Int64] = [1, 2, 3]
        #expect(promptsel_selector_shuffle(sel, nil, 0) == PROMPTSEL_OK)
        #expect(promptsel_selector_shuffle(sel, &v, 1) == PROMPTSEL_OK && v == [1, 2, 3])
        #expect(promptsel_selector_shuffle(sel, nil, 3) == PROMPTSEL_E_INVALID_ARG)
        #expect(lastError().contains("values is NULL"))
        #expect(promptsel_selector_shuffle(sel, &v, -1) == PROMPTSEL_E_INVALID_ARG)
        #expect(lastError().contains("too large"))
        #expect(promptsel_selector_shuffle(nil, &v, 3) == PROMPTSEL_E_INVALID_ARG)
        #expect(v == [1, 2, 3])
        #expect(serialize(sel) == before)
        #expect(promptsel_selector_shuffle(sel, &v, 3) == PROMPTSEL_OK)
        #expect(serialize(sel) != before)  // the generator advanced
    }
}
