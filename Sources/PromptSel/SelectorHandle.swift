import Glibc
import PromptSelCore

/// What a `promptsel_selector *` points to: a selector and the lock that guards it.
/// Calls on one handle are serialized; ctypes releases the GIL, so Python threads
/// really do arrive here concurrently. Different handles have different locks and
/// run in parallel.
///
/// The lock is a `pthread_mutex_t`, not `Synchronization.Mutex`. On Linux `Mutex`
/// is built on raw futex syscalls, which ThreadSanitizer cannot see: under TSan
/// every access made inside the lock looked like a race with the previous holder's.
/// TSan intercepts `pthread_mutex_lock`/`unlock`, so with this lock the shipped
/// code is the code TSan checks (no suppressions, no sanitizer-only build flag),
/// and a real race still gets reported. Its cost is one uncontended lock/unlock
/// pair per call: a select+update step over 4096 candidates is within noise of
/// `Mutex` (`make sanitize-lock-cost`, Tests/Sanitizers/lock_cost.c).
///
/// `@unchecked Sendable` because the checker cannot see the invariant that makes it
/// safe: `selector` is read or written only between `pthread_mutex_lock` and
/// `pthread_mutex_unlock` of `mutex`. (A `Mutex<PromptSelector>` would say the
/// same, but region checking rejects swapping in a freshly decoded selector, which
/// `deserialize` needs.)
final class SelectorHandle: @unchecked Sendable {
    /// Heap-allocated: a pthread mutex must never move once initialized.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var selector: PromptSelector

    init(_ selector: PromptSelector) {
        self.selector = selector
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Returns a retained opaque pointer for C; released by `promptsel_selector_free`.
    func retainedPointer() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }

    static func from(_ p: OpaquePointer?) throws(PromptSelError) -> SelectorHandle {
        guard let p else { throw PromptSelError(.invalidArgument, "selector handle is NULL") }
        return Unmanaged<SelectorHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    static func release(_ p: OpaquePointer) {
        Unmanaged<SelectorHandle>.fromOpaque(UnsafeRawPointer(p)).release()
    }

    /// Runs `body` with the selector locked.
    @inline(__always)
    func withLock<R>(_ body: (PromptSelector) throws(PromptSelError) -> R) throws(PromptSelError) -> R {
        lock()
        defer { unlock() }
        return try body(selector)
    }

    /// Replaces the selector wholesale (restores a checkpoint).
    func replace(with new: PromptSelector) {
        lock()
        defer { unlock() }
        selector = new
    }

    // A default (non-recursive, non-robust) mutex fails only on misuse: a mutex that
    // was never initialized, or relocking on the same thread. Either is a bug here.
    @inline(__always)
    private func lock() {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    @inline(__always)
    private func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }
}
