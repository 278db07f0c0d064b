import CPromptSel
import Glibc
import PromptSelCore

/// The thread-local "last error" of `promptsel_last_error`, as libgit2's
/// `git_error_last`: a C string owned by the calling thread, freed when the thread
/// exits or the next message replaces it.
enum LastError {
    static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    static func set(_ message: String) {
        free(pthread_getspecific(key))
        pthread_setspecific(key, strdup(message))
    }

    static func clear() {
        guard let old = pthread_getspecific(key) else { return }
        free(old)
        pthread_setspecific(key, nil)
    }

    static var current: UnsafePointer<CChar>? {
        pthread_getspecific(key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
    }
}

/// The one place where Swift errors become status codes: runs `body`, sets or
/// clears the thread-local message, and returns `PROMPTSEL_OK` or the error's code.
/// Every export that can fail goes through here, so no error crosses the boundary.
@inline(__always)
func bridge(_ body: () throws(PromptSelError) -> Void) -> Int32 {
    do {
        try body()
        LastError.clear()
        return PROMPTSEL_OK
    } catch {
        LastError.set(error.message)
        return error.status.rawValue
    }
}

/// A static, NUL-terminated C string from a string literal.
@inline(__always)
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}
