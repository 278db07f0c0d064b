import Testing
@testable import PromptSelCore

@Suite("Checkpoint codec")
struct CheckpointTests {
    func trained(_ strategy: SelectionStrategy = .topk) throws -> PromptSelector {
        let sel = try mopps(strategy, seed: 11, decay: 0.7)
        for step in 0..<5 {
            let cands = (0..<40).map { Int64($0 * 3 + step) }
            let got = try sel.select(candidates: cands, batchSize: 8)
            try sel.update(ids: got.positions.map { cands[$0] }, rates: got.scores.map { ($0 * 8).rounded() / 8 },
                           rollouts: Array(repeating: 8, count: 8))
        }
        return sel
    }

    @Test("round trip: same bytes, and the restored selector chooses identically", arguments: SelectionStrategy.allCases.filter { $0 != .topkEntropy })
    func roundTrip(_ strategy: SelectionStrategy) throws {
        let a = try trained(strategy)
        let b = try PromptSelector.deserialize(a.serialized())
        #expect(b.serialized() == a.serialized())
        #expect(b.parameters == a.parameters && b.rng == a.rng && b.ids == a.ids && b.steps == a.steps)
        for _ in 0..<10 {
            let cands = (0..<60).map { Int64($0) }
            let x = try a.select(candidates: cands, batchSize: 6), y = try b.select(candidates: cands, batchSize: 6)
            #expect(x == y)
            try a.update(ids: [cands[x.positions[0]]], rates: [0.5], rollouts: [8])
            try b.update(ids: [cands[y.positions[0]]], rates: [0.5], rollouts: [8])
        }
    }

    @Test("every single-bit flip is detected")
    func bitFlips() throws {
        let bytes = try trained().serialized()
        for i in stride(from: 0, to: bytes.count, by: 7) {
            var bad = bytes
            bad[i] ^= 1 << UInt8(i % 8)
            #expect(throws: PromptSelError.self) { try PromptSelector.deserialize(bad) }
        }
    }

    @Test("truncation at every length is rejected as corrupt")
    func truncation() throws {
        let bytes = try trained().serialized()
        for n in stride(from: 0, to: bytes.count, by: 5) {
            do {
                _ = try PromptSelector.deserialize(Array(bytes[0..<n]))
                Issue.record("truncated to \(n) bytes was accepted")
            } catch {
                #expect(error.status == .corrupt)
            }
        }
        #expect(throws: PromptSelError.self) { try PromptSelector.deserialize(bytes + [0]) }
    }

    @Test("a future format version is refused with .version")
    func futureVersion() throws {
        var bytes = try trained().serialized()
        bytes[8] = 4
        let crc = CRC32.checksum(bytes, 0..<(bytes.count - 4))
        for k in 0..<4 { bytes[bytes.count - 4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
        #expect(throws: PromptSelError(.version, "checkpoint format version 4 is not supported (this library reads versions 1 to 3)")) {
            try PromptSelector.deserialize(bytes)
        }
    }

    @Test("CRC-32 matches the standard check value")
    func crcCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        // Slice-by-8 against the bytewise definition.
        var c: UInt32 = 0xFFFF_FFFF
        for b in long {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        #expect(CRC32.checksum(long) == ~c)
    }
}
