import PromptSelCore
import Synchronization

/// What a `promptsel_selector *` points to: a selector and the lock that guards it.
/// Calls on one handle are serialized; ctypes releases the GIL, so Python threads
/// really do arrive here concurrently.
///
/// `@unchecked Sendable` because the checker cannot see the invariant that makes it
/// safe: `selector` is read or written only inside `lock.withLock`. (A
/// `Mutex<PromptSelector>` would say the same, but region checking rejects swapping
/// in a freshly decoded selector, which `deserialize` needs.)
final class SelectorHandle: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private var selector: PromptSelector

    init(_ selector: PromptSelector) {
        self.selector = selector
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
        try lock.withLock { _ throws(PromptSelError) -> R in try body(selector) }
    }

    /// Replaces the selector wholesale (restores a checkpoint).
    func replace(with new: PromptSelector) {
        lock.withLock { _ in selector = new }
    }
}
