/// The native checkpoint frame. Only the frame is known here; the payload's model
/// part belongs to the model (`SelectionModel.encode` / `decode`).
///
///     offset  size  field
///     0       8     magic "PSELCKPT"
///     8       4     format version (u32, currently 3)
///     12      4     method (u32, its `MethodInfo.checkpointID`)
///     16      8     payload length L (u64)
///     24      L     payload
///     24+L    4     CRC-32 of bytes [0, 24+L)
///
/// Format 2 payload: parameters as `key=value` text (u32 length, UTF-8; stored by
/// name, so a new parameter needs no format bump and an old checkpoint takes its
/// default), generator state (4 × u64), step count (u64), the model's payload.
/// Format 3 differs from 2 only in the feature methods (gps, hybrid): each prompt's
/// projected row (rank + 1 floats) where format 2 kept its raw row (dim floats),
/// projected again when a format 2 file is loaded.
/// Format 1 (promptsel 0.2) differs only in the parameters: a fixed binary config
/// (see CheckpointFormatV1.swift). All integers and doubles are little-endian;
/// doubles are stored bit-exactly so a restored selector continues exactly where the
/// saved one stopped.
public enum CheckpointFormat {
    static let magic: [UInt8] = Array("PSELCKPT".utf8)
    public static let version: UInt32 = 3
    static let headerSize = 24
    /// Longest parameter text accepted from a file.
    static let maxParameterText = 1 << 16
}

extension PromptSelector {
    /// The exact length of `serialized()`, by a pass that writes nothing.
    public func serializedSize() -> Int {
        var w = ByteWriter(counting: true)
        encode(&w)
        return w.count
    }

    /// The serialized state; `size` (from `serializedSize()`) is reserved up front.
    public func serialized(size: Int? = nil) -> [UInt8] {
        var w = ByteWriter(reserving: size ?? serializedSize())
        encode(&w)
        return w.bytes
    }

    private func encode(_ w: inout ByteWriter) {
        w.raw(CheckpointFormat.magic)
        w.u32(CheckpointFormat.version)
        w.u32(info.checkpointID)
        w.u64(0)  // payload length, patched below
        let text = Array(parameters.text.utf8)
        w.u32(UInt32(text.count))
        w.raw(text)
        let s = rng.state
        w.u64(s.0); w.u64(s.1); w.u64(s.2); w.u64(s.3)
        w.u64(steps)
        model.encode(&w)
        w.patchU64(UInt64(w.count - CheckpointFormat.headerSize), at: 16)
        w.u32(w.counting ? 0 : CRC32.checksum(w.bytes))
    }

    /// Rebuilds a selector from `serialized()` bytes (format 2 or 1).
    public static func deserialize(_ bytes: [UInt8]) throws(PromptSelError) -> PromptSelector {
        var r = ByteReader(bytes)
        return try deserialize(&r, count: bytes.count)
    }

    /// Rebuilds a selector from a stream of `count` checkpoint bytes, decoding as it
    /// reads (a file is never held whole: loading needs about the final state's
    /// memory). Any defect (wrong magic, truncation, checksum, invalid values,
    /// duplicate ids) throws; nothing is shared with an existing selector. A damaged
    /// file is reported as a checksum mismatch even when a value check fails first.
    public static func deserialize(_ r: inout ByteReader, count: Int,
                                   memoryLimit: Int = .max) throws(PromptSelError) -> PromptSelector {
        let minimum = CheckpointFormat.headerSize + 4
        guard count >= minimum else {
            throw .corrupt("checkpoint is truncated: \(count) bytes, a header alone needs \(minimum)")
        }
        guard try r.raw(8, "magic") == CheckpointFormat.magic else {
            throw .corrupt("not a promptsel checkpoint (bad magic)")
        }
        let version = try r.u32()
        let method = try r.u32()
        let length = try r.u64()
        // The declared length is checked against the real size before anything is
        // allocated: a lying header cannot ask for memory the input does not back.
        guard length == UInt64(count - minimum) else {
            throw .corrupt("checkpoint is truncated or has trailing bytes: payload says \(length) bytes, "
                + "input holds \(count - minimum)")
        }
        // The state in memory is about the checkpoint's size: one larger than the
        // machine can hold is refused before anything is allocated.
        guard count <= memoryLimit else {
            throw PromptSelError(.noMemory, "a checkpoint of \(count) bytes exceeds this machine's memory "
                + "(\(memoryLimit) bytes)")
        }
        r.reserveTail(4)
        let selector: PromptSelector
        do throws(PromptSelError) {
            guard version >= 1, version <= CheckpointFormat.version else {
                throw PromptSelError(PromptSelStatus.version, "checkpoint format version \(version) is not supported "
                    + "(this library reads versions 1 to \(CheckpointFormat.version))")
            }
            r.formatVersion = version
            selector = try decodePayload(&r, version: version, method: method)
            guard r.remaining == 0 else { throw .corrupt("checkpoint has \(r.remaining) unexpected bytes at the end") }
        } catch {
            // Damage first: a flipped bit anywhere is "checksum", whatever it broke.
            if error.status != .version, (try? r.skipToTail()) != nil {
                let actual = r.checksumSoFar()
                if let stored = try? r.tailU32(), stored != actual {
                    throw .corrupt("checkpoint checksum mismatch (stored \(stored), computed \(actual)): the file is damaged")
                }
            }
            throw error
        }
        let actual = r.checksumSoFar()
        let stored = try r.tailU32()
        guard stored == actual else {
            throw .corrupt("checkpoint checksum mismatch (stored \(stored), computed \(actual)): the file is damaged")
        }
        return selector
    }

    private static func decodePayload(_ r: inout ByteReader, version: UInt32, method: UInt32) throws(PromptSelError) -> PromptSelector {
        guard let type = MethodRegistry.model(checkpointID: method) else {
            throw PromptSelError(.unsupported, "checkpoint of method id \(method), which this library does not have")
        }
        let parameters: Parameters
        if version == 1 {
            parameters = try CheckpointFormatV1.parameters(&r, method: type)
        } else {
            let n = Int(try r.u32("parameter text length"))
            guard n <= CheckpointFormat.maxParameterText else { throw .corrupt("checkpoint parameter text is \(n) bytes") }
            let text = String(decoding: try r.raw(n, "parameter text"), as: UTF8.self)
            do { parameters = try Parameters(specs: type.info.parameters, text: text, method: type.info.name) } catch {
                throw .corrupt("checkpoint holds invalid parameters: \(error.message)")
            }
        }
        let selector: PromptSelector
        do { selector = try PromptSelector(type, parameters) } catch {
            throw .corrupt("checkpoint holds an invalid configuration: \(error.message)")
        }
        let s = (try r.u64(), try r.u64(), try r.u64(), try r.u64())
        guard let rng = Xoshiro256StarStar(state: s) else { throw .corrupt("checkpoint holds an all-zero generator state") }
        selector.rng = rng
        selector.steps = try r.u64("step count")
        try selector.model.decode(&r)
        return selector
    }
}
