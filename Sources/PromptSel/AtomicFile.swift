import Glibc
import PromptSelCore
import Synchronization

/// Crash-safe file writes and bounded streaming reads with POSIX calls (no
/// Foundation). Paths are the caller's exact bytes (never re-encoded: a non-UTF-8
/// name must name the file it names).
enum AtomicFile {
    /// Distinguishes temporary files of concurrent saves within one process.
    static let sequence = Atomic<UInt64>(0)
    /// A temporary file older than this, whose writer holds no lock on it, was left
    /// by a killed save and is removed by the next save of the same target.
    static let staleAfterSeconds = 2

    /// A path as the caller gave it: the bytes without the NUL.
    struct Path: CustomStringConvertible {
        let bytes: [UInt8]

        init(_ p: UnsafePointer<CChar>) throws(PromptSelError) {
            let n = strlen(p)
            guard n > 0 else { throw PromptSelError(.invalidArgument, "path is empty") }
            bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: n))
        }

        init(bytes: [UInt8]) { self.bytes = bytes }

        /// For messages only (invalid UTF-8 shown as U+FFFD).
        var description: String { String(decoding: bytes, as: UTF8.self) }

        func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
            (bytes + [0]).withUnsafeBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { body($0) }
            }
        }

        var directory: Path {
            guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return Path(bytes: [UInt8(ascii: ".")]) }
            return slash == 0 ? Path(bytes: [UInt8(ascii: "/")]) : Path(bytes: Array(bytes[..<slash]))
        }

        var name: [UInt8] {
            guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return bytes }
            return Array(bytes[(slash + 1)...])
        }

        /// `name` inside this directory.
        func child(_ name: [UInt8]) -> Path {
            Path(bytes: bytes + [UInt8(ascii: "/")] + name)
        }

        /// `name` in this path's directory.
        func sibling(_ name: [UInt8]) -> Path {
            guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return Path(bytes: name) }
            return Path(bytes: Array(bytes[...slash]) + name)
        }
    }

    private static func ioError(_ what: String, _ path: Path) -> PromptSelError {
        let reason = String(cString: strerror(errno))
        return PromptSelError(.io, "\(what) '\(path)': \(reason)")
    }

    /// Temporary names: ".psel-<16 hex of the target's name>-<8 hex>.tmp" (35 bytes
    /// whatever the target's length, so any valid name still saves) in the target's
    /// directory; the hash ties a temporary file to its target for the cleanup.
    static func tempPrefix(_ path: Path) -> [UInt8] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64
        for b in path.name { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Array(".psel-\(hex(h, 16))-".utf8)
    }

    private static func hex(_ v: UInt64, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// Writes `bytes` to a temporary file in the same directory, fsyncs it, renames
    /// it over `path` and fsyncs the directory. Until the rename the old file is
    /// untouched; after it the new one is complete on disk. The writer holds an
    /// exclusive lock on its temporary file, so the cleanup of killed saves' leftovers
    /// never takes the file of a save still running.
    static func write(_ bytes: [UInt8], to path: Path) throws(PromptSelError) {
        removeStaleTemporaries(of: path)
        let prefix = tempPrefix(path)
        var tmp = path
        var fd: Int32 = -1
        for _ in 0..<8 {
            let n = sequence.add(1, ordering: .relaxed).newValue
            let tag = UInt64(UInt32.random(in: 0...UInt32.max)) ^ (n &* 0x9E37_79B9) ^ UInt64(UInt32(truncatingIfNeeded: getpid()))
            tmp = path.sibling(prefix + Array("\(hex(tag & 0xFFFF_FFFF, 8)).tmp".utf8))
            fd = tmp.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw ioError("cannot create a temporary file beside", path) }
        _ = flock(fd, LOCK_EX)
        var failure: PromptSelError?
        bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let w = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    failure = ioError("cannot write", tmp)
                    return
                }
                done += w
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = ioError("cannot fsync", tmp) }
        if failure == nil {
            let renamed = tmp.withCString { t in path.withCString { rename(t, $0) } }
            if renamed != 0 { failure = ioError("cannot rename over", path) }
        }
        if failure != nil { _ = tmp.withCString { unlink($0) } }
        close(fd)
        if let failure { throw failure }
        // Make the rename itself durable.
        let dfd = path.directory.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    /// Removes temporary files of `path` left by saves that were killed: same prefix,
    /// older than `staleAfterSeconds`, and lockable (no live writer holds them).
    static func removeStaleTemporaries(of path: Path) {
        let prefix = tempPrefix(path)
        let directory = path.directory
        guard let dir = directory.withCString({ opendir($0) }) else { return }
        defer { closedir(dir) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                Array(raw.prefix { $0 != 0 })
            }
            guard name.count > prefix.count, Array(name.prefix(prefix.count)) == prefix,
                  name.suffix(4) == Array(".tmp".utf8) else { continue }
            let candidate = directory.child(name)
            let fd = candidate.withCString { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW) }
            guard fd >= 0 else { continue }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
               Int(now.tv_sec) - Int(st.st_mtim.tv_sec) >= staleAfterSeconds,
               flock(fd, LOCK_EX | LOCK_NB) == 0 {
                _ = candidate.withCString { unlink($0) }
            }
            close(fd)
        }
    }

    /// An open regular file, for streaming reads.
    final class Reader {
        let fd: Int32
        let size: Int
        let path: Path

        /// Opens without blocking (a FIFO or device would block in open or read
        /// forever) and accepts regular files only.
        init(_ path: Path) throws(PromptSelError) {
            self.path = path
            let fd = path.withCString { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
            guard fd >= 0 else { throw ioError("cannot open", path) }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let e = ioError("cannot stat", path)
                close(fd)
                throw e
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                throw PromptSelError(.io, "'\(path)' is not a regular file")
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            self.fd = fd
            size = Int(st.st_size)
        }

        deinit { close(fd) }

        /// The first 24 bytes (fewer for a shorter file), read without moving the
        /// stream: a checkpoint's header, for sizing its state before decoding it.
        var header: [UInt8] {
            var b = [UInt8](repeating: 0, count: 24)
            let got = b.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 24, 0) }
            return Array(b.prefix(max(got, 0)))
        }

        /// A `ByteSource` reading the file in the reader's bounded chunks.
        var source: ByteSource {
            { [self] buffer, range throws(PromptSelError) in
                guard !range.isEmpty else { return 0 }
                var got = 0
                var failure: PromptSelError?
                buffer.withUnsafeMutableBytes { raw in
                    while true {
                        let r = Glibc.read(fd, raw.baseAddress! + range.lowerBound, range.count)
                        if r < 0 {
                            if errno == EINTR { continue }
                            failure = AtomicFile.ioError("cannot read", path)
                        }
                        got = max(r, 0)
                        return
                    }
                }
                if let failure { throw failure }
                return got
            }
        }
    }

    /// Physical memory of this machine, the ceiling for any input's in-memory state.
    static var physicalMemory: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages.multipliedReportingOverflow(by: size).partialValue : Int.max
    }
}
