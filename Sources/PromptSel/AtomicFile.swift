import Glibc
import PromptSelCore
import Synchronization

/// Crash-safe file writes and whole-file reads with POSIX calls (no Foundation).
enum AtomicFile {
    /// Distinguishes temporary files of concurrent saves within one process.
    static let sequence = Atomic<UInt64>(0)

    private static func ioError(_ what: String, _ path: String) -> PromptSelError {
        let reason = String(cString: strerror(errno))
        return PromptSelError(.io, "\(what) '\(path)': \(reason)")
    }

    /// Writes `bytes` to a temporary file in the same directory, fsyncs it, renames
    /// it over `path` and fsyncs the directory. Until the rename the old file is
    /// untouched; after it the new one is complete on disk.
    static func write(_ bytes: [UInt8], to path: String) throws(PromptSelError) {
        // Unique even against a temporary file left by a crashed process that had
        // the same pid (containers restart with the same pids): a random suffix,
        // and a fresh name on the rare collision.
        var tmp = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            let n = sequence.add(1, ordering: .relaxed).newValue
            tmp = "\(path).tmp-\(getpid())-\(n)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw ioError("cannot create", tmp) }
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
        if close(fd) != 0 && failure == nil { failure = ioError("cannot close", tmp) }
        if failure == nil && rename(tmp, path) != 0 { failure = ioError("cannot rename over", path) }
        if let failure {
            unlink(tmp)
            throw failure
        }
        // Make the rename itself durable.
        let dir = directory(of: path)
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Reads a whole regular file.
    static func read(_ path: String) throws(PromptSelError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError("cannot stat", path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PromptSelError(.io, "'\(path)' is not a regular file")
        }
        let size = Int(st.st_size)
        var failure: PromptSelError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            var done = 0
            while done < size {
                let r = Glibc.read(fd, buf.baseAddress! + done, size - done)
                if r < 0 {
                    if errno == EINTR { continue }
                    failure = ioError("cannot read", path)
                    break
                }
                if r == 0 { break }  // the file shrank while reading
                done += r
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }
}
