import Testing
@testable import PromptSelCore

private func id(_ s: String) -> Int64 { StringIds.id(Array(s.utf8)) }
private func hashed(_ bytes: [UInt8]) -> Int64 { Int64(bitPattern: StringIds.fmix64(StringIds.fnv1a64(bytes))) }

@Suite("String ids")
struct StringIdsTests {
    @Test("FNV-1a-64 matches its published test vectors")
    func fnvVectors() {
        #expect(StringIds.fnv1a64([UInt8]()) == 0xcbf2_9ce4_8422_2325)
        #expect(StringIds.fnv1a64(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(StringIds.fnv1a64(Array("foobar".utf8)) == 0x8594_4171_f739_67e8)
    }

    @Test("fmix64 is MurmurHash3's finalizer")
    func fmix() {
        #expect(StringIds.fmix64(0) == 0)
        // Values of the documented formula, computed independently (Python, exact integers).
        #expect(StringIds.fmix64(0xcbf2_9ce4_8422_2325) == UInt64(bitPattern: -1_166_397_803_181_037_274))
        #expect(StringIds.fmix64(0xe71f_a219_0541_574b) == 3_741_276_987_793_851_837)
    }

    @Test("known ids of hashed strings")
    func knownValues() {
        #expect(id("") == -1_166_397_803_181_037_274)
        #expect(id("a") == -9_033_471_704_281_723_301)
        #expect(id("abc") == 3_741_276_987_793_851_837)
        #expect(id("007") == -3_354_701_379_425_664_184)
        #expect(id("-0") == 8_494_649_872_989_021_994)
        #expect(id("9223372036854775808") == 5_345_066_308_411_085_779)
        #expect(id("gsm8k/train/17") == -6_642_044_342_028_039_058)
        #expect(StringIds.id([0xc3, 0xa9]) == -7_109_551_338_664_069_573)  // "é"
        #expect(StringIds.id([0xff, 0x00]) == 7_392_630_847_584_933_754)   // not UTF-8, with a NUL
    }

    @Test("canonical decimal spellings are their integer, as Python's str(int) writes them")
    func canonical() {
        #expect(id("7") == 7)
        #expect(id("-7") == -7)
        #expect(id("0") == 0)
        #expect(id("10") == 10)
        #expect(id("9223372036854775807") == Int64.max)
        #expect(id("-9223372036854775808") == Int64.min)
        #expect(id("-9223372036854775807") == -Int64.max)
        for v: Int64 in [1, -1, 42, 1_000_000, -123_456_789, Int64.max - 1, Int64.min + 1] {
            #expect(id(String(v)) == v)
        }
    }

    @Test("non-canonical spellings are hashed, never parsed")
    func nonCanonical() {
        for s in ["", "007", "00", "-0", "-00", "-", "+7", " 7", "7 ", "7\n", "1_000", "1e3", "0x10", "٣",
                  "9223372036854775808", "-9223372036854775809", "99999999999999999999", "-99999999999999999999",
                  "123456789012345678901", "18446744073709551616", "１２"] {
            #expect(StringIds.canonicalInteger(Array(s.utf8)) == nil, "\(s)")
            #expect(id(s) == hashed(Array(s.utf8)), "\(s)")
        }
        #expect(StringIds.id([0x37, 0x00]) == hashed([0x37, 0x00]))  // "7\0"
    }

    @Test("ids of back-to-back strings; offsets are validated")
    func batch() throws {
        let bytes = Array("7abc-0".utf8)
        #expect(try StringIds.ids(bytes, offsets: [0, 1, 4, 4, 6]) == [7, id("abc"), id(""), id("-0")])
        #expect(try StringIds.ids(bytes[1...], offsets: [0, 3, 5]) == [id("abc"), id("-0")])
        #expect(try StringIds.ids([UInt8](), offsets: [0]) == [])
        for bad in [[], [1, 6], [0, 4, 3, 6], [0, 5], [0, 7]] as [[Int]] {
            #expect(throws: PromptSelError.self) { try StringIds.ids(bytes, offsets: bad) }
        }
    }
}
