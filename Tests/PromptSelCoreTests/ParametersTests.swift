import Testing
@testable import PromptSelCore

@Suite("Parameters and the method registry")
struct ParametersTests {
    @Test("every method: defaults print and parse back to the same parameters", arguments: MethodRegistry.names)
    func defaultsRoundTrip(_ method: String) throws {
        let type = try MethodRegistry.model(named: method)
        let p = Parameters(specs: type.info.parameters)
        let again = try Parameters(specs: type.info.parameters, text: p.text, method: method)
        #expect(again == p && again.text == p.text)
        #expect(type.info.parameters.prefix(3).map(\.name) == ["seed", "strategy", "no_update"])
    }

    @Test("reals round-trip bit-exactly through the text form")
    func exactReals() throws {
        let specs = MoPPSModel.info.parameters
        for v in [0.1, 1.0 / 3.0, 0.9190886196338225, 5e-324, 1e-12, 0.7000000000000001] {
            let p = try Parameters(specs: specs, text: "target=\(v)", method: "mopps")
            #expect(p.real("target").bitPattern == v.bitPattern)
            let again = try Parameters(specs: specs, text: p.text, method: "mopps")
            #expect(again.real("target").bitPattern == v.bitPattern)
        }
    }

    @Test("separators, defaults for unset keys, and errors that name the problem")
    func parsing() throws {
        let specs = MoPPSModel.info.parameters
        let p = try Parameters(specs: specs, text: " seed=18446744073709551615,strategy=threshold\n lower=0.2\tno_update=1 ",
                               method: "mopps")
        #expect(p.unsigned("seed") == UInt64.max && p.choice("strategy") == "threshold" && p.flag("no_update"))
        #expect(p.real("lower") == 0.2 && p.real("upper") == 0.7)
        let cases: [(String, PromptSelStatus, String)] = [
            ("tagret=0.4", .invalidArgument, "did you mean 'target'"),
            ("decay=0", .outOfRange, "decay must lie in (0.0, 1.0]"),
            ("decay=abc", .invalidArgument, "decay must be a number"),
            ("target=inf", .invalidArgument, "finite"),
            ("seed=-1", .invalidArgument, "seed"),
            ("no_update=yes", .invalidArgument, "true or false"),
            ("strategy=topk+entropy", .invalidArgument, "topk, threshold, uniform"),
            ("target=0.1 target=0.2", .invalidArgument, "twice"),
            ("=3", .invalidArgument, "key=value"),
            ("zzzzzzzzzz=1", .invalidArgument, "it takes seed, strategy"),
        ]
        for (text, status, message) in cases {
            do {
                _ = try Parameters(specs: specs, text: text, method: "mopps")
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.status == status, "\(text)")
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
    }

    @Test("cross-parameter rules are the model's: lower <= upper")
    func crossRule() {
        #expect(throws: PromptSelError(.outOfRange, "lower (0.8) must not exceed upper (0.7)")) {
            try PromptSelector(method: "mopps", params: "lower=0.8")
        }
    }

    @Test("registry: names, checkpoint ids unique, reserved and misspelled methods")
    func registry() throws {
        #expect(MethodRegistry.names == ["mopps", "dps", "gps", "hybrid"])
        let ids = MethodRegistry.models.map { $0.info.checkpointID }
        #expect(Set(ids).count == ids.count)
        #expect(throws: PromptSelError.self) { try MethodRegistry.model(named: "GPS") }
        do { _ = try MethodRegistry.model(named: "dsp") } catch { #expect(error.message.contains("did you mean 'dps'")) }
        for type in MethodRegistry.models {
            #expect(MethodRegistry.model(checkpointID: type.info.checkpointID).map { $0.info.name } == type.info.name)
        }
    }

    @Test("a checkpoint that omits a parameter loads it at its default (no format bump for new parameters)")
    func missingParameterTakesDefault() throws {
        let sel = try PromptSelector(method: "mopps", params: "seed=3 target=0.25")
        var bytes = sel.serialized()
        // Drop " target=0.25" from the stored text and fix up lengths and the CRC.
        let text = Array(sel.parameters.text.utf8)
        let shorter = Array(sel.parameters.text.replacingFirst(" target=0.25", with: "").utf8)
        let start = CheckpointFormat.headerSize + 4
        #expect(Array(bytes[start..<(start + text.count)]) == text)
        bytes.replaceSubrange(start..<(start + text.count), with: shorter)
        let cut = text.count - shorter.count
        var w = ByteWriter()
        w.u32(UInt32(shorter.count))
        bytes.replaceSubrange((start - 4)..<start, with: w.bytes)
        var length = ByteWriter()
        length.u64(UInt64(bytes.count - 4 - CheckpointFormat.headerSize))
        bytes.replaceSubrange(16..<24, with: length.bytes)
        bytes.removeLast(4)
        var crc = ByteWriter()
        crc.u32(CRC32.checksum(bytes))
        bytes += crc.bytes
        #expect(cut == 12)
        let loaded = try PromptSelector.deserialize(bytes)
        #expect(loaded.parameters.real("target") == 0.5 && loaded.parameters.unsigned("seed") == 3)
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = range(of: a) else { return self }
        return replacingCharacters(in: r, with: b)
    }
}
