import CPromptSel
import Foundation
import Testing
import PromptSel
@testable import PromptSelCore

// These tests call the exported functions exactly as a C program would: through
// the declarations of include/promptsel.h, with raw pointers and status codes.

func lastError() -> String { promptsel_last_error().map { String(cString: $0) } ?? "" }

func makeSelector(seed: UInt64 = 1, method: String = "mopps", _ params: String = "") throws -> OpaquePointer {
    var sel: OpaquePointer?
    let rc = promptsel_selector_create(&sel, method, "seed=\(seed) " + params)
    guard rc == PROMPTSEL_OK, let sel else { throw PromptSelError(.internalError, "create failed: \(rc) \(lastError())") }
    return sel
}

func text(_ call: (UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>) -> Int32) -> String {
    var need = 0
    #expect(call(nil, 0, &need) == PROMPTSEL_E_BUFFER_TOO_SMALL)
    var buf = [CChar](repeating: 0, count: need + 1)
    var len = 0
    #expect(call(&buf, buf.count, &len) == PROMPTSEL_OK)
    #expect(len == need)
    return String(cString: buf)
}

/// MoPPS alpha and beta of `ids`: columns 0 and 1 of the generic state.
func posterior(_ sel: OpaquePointer, _ ids: [Int64]) -> (alpha: [Double], beta: [Double]) {
    var rows = [Double](repeating: 0, count: 2 * ids.count)
    #expect(promptsel_selector_get_state(&rows, rows.count, sel, ids, ids.count, 0, 2) == PROMPTSEL_OK)
    return (stride(from: 0, to: rows.count, by: 2).map { rows[$0] }, stride(from: 1, to: rows.count, by: 2).map { rows[$0] })
}

func serialize(_ sel: OpaquePointer) -> [UInt8] {
    var need = 0
    #expect(promptsel_selector_serialize(nil, 0, &need, sel) == PROMPTSEL_E_BUFFER_TOO_SMALL)
    var buf = [UInt8](repeating: 0, count: need)
    var len = 0
    #expect(promptsel_selector_serialize(&buf, buf.count, &len, sel) == PROMPTSEL_OK)
    #expect(len == need)
    return buf
}

@Suite("Exported C symbols")
struct ExportedSymbolTests {
    @Test("versions agree with the header macros")
    func versions() {
        #expect(promptsel_abi_version() == UInt32(PROMPTSEL_ABI_VERSION))
        #expect(promptsel_version_number() == UInt32(PROMPTSEL_VERSION_MAJOR * 10000 + PROMPTSEL_VERSION_MINOR * 100 + PROMPTSEL_VERSION_PATCH))
        #expect(String(cString: promptsel_version_string()!) == "\(PROMPTSEL_VERSION_MAJOR).\(PROMPTSEL_VERSION_MINOR).\(PROMPTSEL_VERSION_PATCH)")
    }

    @Test("status codes of the core equal the header's #defines, with distinct texts")
    func statusCodes() {
        let pairs: [(PromptSelStatus, Int32)] = [
            (.ok, PROMPTSEL_OK), (.invalidArgument, PROMPTSEL_E_INVALID_ARG), (.bufferTooSmall, PROMPTSEL_E_BUFFER_TOO_SMALL),
            (.outOfRange, PROMPTSEL_E_OUT_OF_RANGE), (.unsupported, PROMPTSEL_E_UNSUPPORTED), (.io, PROMPTSEL_E_IO),
            (.corrupt, PROMPTSEL_E_CORRUPT), (.version, PROMPTSEL_E_VERSION), (.noMemory, PROMPTSEL_E_NO_MEMORY),
            (.internalError, PROMPTSEL_E_INTERNAL),
        ]
        for (s, c) in pairs { #expect(s.rawValue == c) }
        let texts = Set(pairs.map { String(cString: promptsel_status_string($0.1)!) })
        #expect(texts.count == pairs.count)
        #expect(String(cString: promptsel_status_string(-1234)!) == "unknown status")
    }

    @Test("methods and their descriptions come from the library; bad names are refused")
    func describe() {
        #expect(text { promptsel_methods($0, $1, $2) } == "mopps\ndps\ngps\nhybrid\n")
        let d = text { promptsel_method_describe($0, $1, $2, "mopps") }
        #expect(d.hasPrefix("method\tmopps\t"))
        #expect(d.contains("param\tstrategy\tchoice\ttopk\ttopk|threshold|uniform|informative\t"))
        #expect(d.contains("param\ttarget\treal\t0.5\t[0.0, 1.0]\t") && d.contains("param\tdecay\treal\t1.0\t(0.0, 1.0]\t"))
        #expect(d.contains("state\talpha\t") && d.contains("state\tbeta\t"))
        var len = 0
        var buf = [CChar](repeating: 0, count: 4096)
        #expect(promptsel_method_describe(&buf, buf.count, &len, "mopp") == PROMPTSEL_E_INVALID_ARG)
        #expect(lastError().contains("did you mean 'mopps'"))
        #expect(promptsel_method_describe(&buf, buf.count, &len, "gps") == PROMPTSEL_OK)
        #expect(promptsel_method_describe(&buf, buf.count, &len, nil) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_method_describe(&buf, buf.count, nil, "dps") == PROMPTSEL_E_INVALID_ARG)
    }

    @Test("create refuses unknown keys (naming the nearest), NULLs and out-of-range values")
    func createErrors() throws {
        var sel: OpaquePointer?
        #expect(promptsel_selector_create(&sel, "mopps", "decay=0") == PROMPTSEL_E_OUT_OF_RANGE)
        #expect(lastError().contains("decay"))
        #expect(promptsel_selector_create(&sel, "mopps", "target=nan") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(&sel, "mopps", "strategy=42") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(&sel, "mopps", "tagret=0.4") == PROMPTSEL_E_INVALID_ARG)
        #expect(lastError().contains("did you mean 'target'"))
        #expect(promptsel_selector_create(&sel, "mopps", "target") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(&sel, "mopps", "seed=1 seed=2") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(&sel, "dps", "strategy=threshold") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(&sel, nil, "") == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_create(nil, "mopps", "") == PROMPTSEL_E_INVALID_ARG)
        #expect(sel == nil)
        promptsel_selector_free(nil)
        // NULL params: every default; the parameters read back in the described order.
        #expect(promptsel_selector_create(&sel, "mopps", nil) == PROMPTSEL_OK)
        defer { promptsel_selector_free(sel) }
        #expect(String(cString: promptsel_selector_method(sel)!) == "mopps")
        #expect(promptsel_selector_method(nil) == nil)
        #expect(text { promptsel_selector_params($0, $1, $2, sel) }
            == "seed=0 strategy=topk no_update=false target=0.5 lower=0.3 upper=0.7 decay=1.0 prior_alpha=1.0 prior_beta=1.0 "
            + "rollouts=8 proportional=false")
        var width = 0
        #expect(promptsel_selector_state_width(&width, sel) == PROMPTSEL_OK && width == 2)
    }

    @Test("a select/update step through raw pointers; last error clears on success")
    func step() throws {
        let sel = try makeSelector()
        defer { promptsel_selector_free(sel) }
        let cands: [Int64] = (0..<64).map { 1_000_000_007 * $0 }
        var pos = [Int64](repeating: -1, count: 8), scores = [Double](repeating: -1, count: 8)
        var count = 0
        var state = [Double](repeating: -1, count: 16)
        #expect(promptsel_selector_select(&pos, &scores, nil, 8, &count, sel, cands, 64, 100) == PROMPTSEL_E_INVALID_ARG)
        #expect(!lastError().isEmpty)
        #expect(promptsel_selector_select(&pos, &scores, &state, 8, &count, sel, cands, 64, 8) == PROMPTSEL_OK)
        #expect(state == [Double](repeating: 1, count: 16))  // the chosen rows: the prior Beta(1, 1)
        #expect(promptsel_last_error() == nil)
        #expect(count == 8 && Set(pos).count == 8 && pos.allSatisfy { $0 >= 0 && $0 < 64 })
        #expect(scores.allSatisfy { $0 >= 0 && $0 <= 1 })
        let ids = pos.map { cands[Int($0)] }
        let rates = [Double](repeating: 0.5, count: 8), ks = [Int32](repeating: 8, count: 8)
        #expect(promptsel_selector_update(sel, ids, rates, ks, 8) == PROMPTSEL_OK)
        var mean = [Double](repeating: 0, count: 8)
        #expect(promptsel_selector_predict(&mean, 8, sel, ids, 8) == PROMPTSEL_OK)
        #expect(mean.allSatisfy { $0 == 0.5 })
        #expect(posterior(sel, ids).alpha.allSatisfy { $0 == 5 })
        var n = 0
        #expect(promptsel_selector_count(&n, sel) == PROMPTSEL_OK && n == 64)
    }

    @Test("bad arguments return codes and leave the state untouched")
    func badArguments() throws {
        let sel = try makeSelector()
        defer { promptsel_selector_free(sel) }
        let cands: [Int64] = Array(0..<10)
        var pos = [Int64](repeating: 0, count: 4)
        var count = 0
        _ = promptsel_selector_select(&pos, nil, nil, 4, &count, sel, cands, 10, 4)
        let before = serialize(sel)
        #expect(promptsel_selector_select(&pos, nil, nil, 2, &count, sel, cands, 10, 4) == PROMPTSEL_E_BUFFER_TOO_SMALL)
        #expect(promptsel_selector_select(nil, nil, nil, 4, &count, sel, cands, 10, 4) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_select(&pos, nil, nil, 4, &count, sel, nil, 10, 4) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_select(&pos, nil, nil, 4, &count, sel, cands, -1, 4) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_select(&pos, nil, nil, 4, &count, nil, cands, 10, 4) == PROMPTSEL_E_INVALID_ARG)
        let ids: [Int64] = [1, 2], ks: [Int32] = [8, 8]
        #expect(promptsel_selector_update(sel, ids, [0.5, .nan], ks, 2) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_update(sel, ids, [0.5, 1.01], ks, 2) == PROMPTSEL_E_OUT_OF_RANGE)
        #expect(lastError().contains("1.01"))
        #expect(promptsel_selector_update(sel, ids, [0.5, 0.5], [8, 0], 2) == PROMPTSEL_E_OUT_OF_RANGE)
        #expect(promptsel_selector_update(sel, ids, nil, ks, 2) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_warm_start(sel, ids, [1, 9], [8, 8], 2, 3) == PROMPTSEL_E_OUT_OF_RANGE)
        #expect(promptsel_selector_set_state(sel, ids, [1, 1, 0, 1], 2) == PROMPTSEL_E_OUT_OF_RANGE)
        #expect(promptsel_selector_set_state(sel, ids, [1, 1, .infinity, 1], 2) == PROMPTSEL_E_INVALID_ARG)
        var rows = [Double](repeating: 0, count: 4)
        #expect(promptsel_selector_get_state(&rows, 3, sel, ids, 2, 0, 2) == PROMPTSEL_E_BUFFER_TOO_SMALL)
        #expect(promptsel_selector_get_state(&rows, 4, sel, ids, 2, 1, 2) == PROMPTSEL_E_INVALID_ARG)
        #expect(promptsel_selector_get_state(&rows, 4, sel, ids, 2, 1, 1) == PROMPTSEL_OK && rows[0] == 1)
        var m = [Double](), mlen = 7
        #expect(promptsel_selector_metrics(&m, 0, &mlen, sel, PROMPTSEL_METRICS_STEP) == PROMPTSEL_OK && mlen == 0)
        #expect(promptsel_selector_metrics(&m, 0, &mlen, sel, 9) == PROMPTSEL_E_INVALID_ARG)
        var idsOut = [Int64](repeating: 0, count: 3)
        var len = 0
        #expect(promptsel_selector_ids(&idsOut, 3, &len, sel) == PROMPTSEL_E_BUFFER_TOO_SMALL)
        #expect(len == 10)
        #expect(serialize(sel) == before)
    }

    @Test("serialize/deserialize/from_bytes; corrupt bytes keep the old state")
    func bytesRoundTrip() throws {
        let a = try makeSelector(seed: 5)
        defer { promptsel_selector_free(a) }
        var pos = [Int64](repeating: 0, count: 4)
        var count = 0
        _ = promptsel_selector_select(&pos, nil, nil, 4, &count, a, Array(0..<20), 20, 4)
        let bytes = serialize(a)
        var b: OpaquePointer?
        #expect(promptsel_selector_from_bytes(&b, bytes, bytes.count) == PROMPTSEL_OK)
        defer { promptsel_selector_free(b) }
        #expect(serialize(b!) == bytes)
        var bad = bytes
        bad[bad.count / 2] ^= 0x10
        let other = try makeSelector(seed: 99)
        defer { promptsel_selector_free(other) }
        let otherBefore = serialize(other)
        #expect(promptsel_selector_deserialize(other, bad, bad.count) == PROMPTSEL_E_CORRUPT)
        #expect(lastError().contains("checksum"))
        #expect(serialize(other) == otherBefore)
        #expect(promptsel_selector_deserialize(other, bytes, bytes.count) == PROMPTSEL_OK)
        #expect(serialize(other) == bytes)
    }

    @Test("save is atomic and load restores; missing or corrupt files fail cleanly")
    func files() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("promptsel-abi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("state.bin").path
        let sel = try makeSelector(seed: 8)
        defer { promptsel_selector_free(sel) }
        #expect(promptsel_selector_save(sel, path) == PROMPTSEL_OK)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.bin"])
        var loaded: OpaquePointer?
        #expect(promptsel_selector_load(&loaded, path) == PROMPTSEL_OK)
        #expect(serialize(loaded!) == serialize(sel))
        promptsel_selector_free(loaded)
        loaded = nil
        #expect(promptsel_selector_load(&loaded, dir.appendingPathComponent("nope.bin").path) == PROMPTSEL_E_IO)
        #expect(promptsel_selector_load(&loaded, dir.path) == PROMPTSEL_E_IO)
        #expect(promptsel_selector_save(sel, dir.appendingPathComponent("missing/dir/x.bin").path) == PROMPTSEL_E_IO)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.bin"])
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[30] ^= 1
        try data.write(to: URL(fileURLWithPath: path))
        #expect(promptsel_selector_load(&loaded, path) == PROMPTSEL_E_CORRUPT)
        #expect(lastError().contains(path))
        #expect(loaded == nil)
    }

    @Test("the last error is per thread")
    func threadLocalError() async {
        let failing = Task.detached { () -> String in
            _ = promptsel_selector_count(nil, nil)
            return lastError()
        }
        let message = await failing.value
        #expect(message.contains("out is NULL"))
        var len = 0
        var buf = [CChar](repeating: 0, count: 64)
        _ = promptsel_methods(&buf, buf.count, &len)
        #expect(promptsel_last_error() == nil)
    }

    @Test("concurrent calls on one handle are serialized")
    func concurrency() async throws {
        let sel = try makeSelector(seed: 3)
        defer { promptsel_selector_free(sel) }
        let address = Int(bitPattern: UnsafeRawPointer(sel))
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<8 {
                group.addTask {
                    let h = OpaquePointer(bitPattern: address)
                    let cands = (0..<32).map { Int64(t * 1000 + $0) }
                    var pos = [Int64](repeating: 0, count: 4)
                    var count = 0
                    for _ in 0..<200 {
                        #expect(promptsel_selector_select(&pos, nil, nil, 4, &count, h, cands, 32, 4) == PROMPTSEL_OK)
                        let ids = pos.map { cands[Int($0)] }
                        #expect(promptsel_selector_update(h, ids, [0, 0.5, 1, 0.25], [8, 8, 8, 8], 4) == PROMPTSEL_OK)
                    }
                }
            }
        }
        var n = 0
        _ = promptsel_selector_count(&n, sel)
        #expect(n == 8 * 32)
        var ids = [Int64](repeating: 0, count: 256)
        var len = 0
        _ = promptsel_selector_ids(&ids, 256, &len, sel)
        let (alpha, beta) = posterior(sel, ids)
        // 8 threads x 200 steps x 4 updates x 8 rollouts, plus the priors: no update lost.
        let total: Double = zip(alpha, beta).map { $0 + $1 }.reduce(0, +)
        let expected: Double = 8 * 200 * 4 * 8 + 2 * 256
        #expect(total == expected)
    }
}
