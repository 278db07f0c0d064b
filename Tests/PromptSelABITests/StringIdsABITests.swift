import CPromptSel
import Testing
import PromptSel
@testable import PromptSelCore

/// Calls promptsel_ids_from_strings as C does: the strings back to back, n + 1 offsets.
private func ids(_ strings: [[UInt8]]) -> (Int32, [Int64]) {
    let bytes = strings.flatMap { $0 }
    var offsets = [0]
    for s in strings { offsets.append(offsets.last! + s.count) }
    var out = [Int64](repeating: 0, count: strings.count)
    let rc = promptsel_ids_from_strings(&out, out.count, bytes, bytes.count, offsets, strings.count)
    return (rc, out)
}

@Suite("promptsel_ids_from_strings")
struct StringIdsABITests {
    @Test("canonical integers and hashed strings, as documented in the header")
    func values() {
        let (rc, out) = ids(["7", "-7", "007", "-0", "", "abc", "9223372036854775807", "9223372036854775808",
                             "-9223372036854775808"].map { Array($0.utf8) } + [[0xff, 0x00, 0x37]])
        #expect(rc == PROMPTSEL_OK && promptsel_last_error() == nil)
        #expect(out[0] == 7 && out[1] == -7 && out[6] == Int64.max && out[8] == Int64.min)
        #expect(out[2] == -3_354_701_379_425_664_184 && out[3] == 8_494_649_872_989_021_994)
        #expect(out[4] == -1_166_397_803_181_037_274 && out[5] == 3_741_276_987_793_851_837)
        #expect(out[7] == 5_345_066_308_411_085_779)
        #expect(out[9] == StringIds.id([0xff, 0x00, 0x37]))
    }

    @Test("n == 0 needs no arrays; bad pointers, sizes and offsets are refused and nothing is written")
    func badArguments() {
        #expect(promptsel_ids_from_strings(nil, 0, nil, 0, [0], 0) == PROMPTSEL_OK)
        let bytes: [UInt8] = Array("ab7".utf8)
        var out: [Int64] = [-1, -1]
        #expect(promptsel_ids_from_strings(&out, 2, nil, 0, [0, 0, 0], 2) == PROMPTSEL_OK)  // two empty strings
        #expect(out[0] == out[1] && out[0] == -1_166_397_803_181_037_274)
        out = [-1, -1]
        let cases: [(Int32, String, () -> Int32)] = [
            (PROMPTSEL_E_INVALID_ARG, "out_ids is NULL", { promptsel_ids_from_strings(nil, 2, bytes, 3, [0, 2, 3], 2) }),
            (PROMPTSEL_E_BUFFER_TOO_SMALL, "capacity", { promptsel_ids_from_strings(&out, 1, bytes, 3, [0, 2, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "bytes is NULL", { promptsel_ids_from_strings(&out, 2, nil, 3, [0, 2, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "offsets is NULL", { promptsel_ids_from_strings(&out, 2, bytes, 3, nil, 2) }),
            (PROMPTSEL_E_INVALID_ARG, "offsets[0] must be 0", { promptsel_ids_from_strings(&out, 2, bytes, 3, [1, 2, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "must not decrease", { promptsel_ids_from_strings(&out, 2, bytes, 3, [0, 3, 2], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "must equal the byte length 3", { promptsel_ids_from_strings(&out, 2, bytes, 3, [0, 1, 2], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "must equal the byte length 2", { promptsel_ids_from_strings(&out, 2, bytes, 2, [0, 1, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "too large", { promptsel_ids_from_strings(&out, 2, bytes, -1, [0, 2, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "too large", { promptsel_ids_from_strings(&out, 2, bytes, 3, [0, 2, 3], -1) }),
            (PROMPTSEL_E_INVALID_ARG, "no size", { promptsel_ids_from_strings(&out, 2, bytes, 3, [0, -1, 3], 2) }),
            (PROMPTSEL_E_INVALID_ARG, "too large", { promptsel_ids_from_strings(&out, -1, bytes, 3, [0, 2, 3], 2) }),
        ]
        for (code, message, call) in cases {
            #expect(call() == code, "\(message)")
            #expect(lastError().contains(message), "\(lastError())")
            #expect(out == [-1, -1])
        }
    }
}
