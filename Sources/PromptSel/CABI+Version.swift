import CPromptSel
import PromptSelCore

// Version, ABI and status exports. The numbers come from the header's macros, so
// the header and the library cannot drift apart.

@c @implementation
public func promptsel_version_number() -> UInt32 {
    UInt32(PROMPTSEL_VERSION_MAJOR * 10000 + PROMPTSEL_VERSION_MINOR * 100 + PROMPTSEL_VERSION_PATCH)
}

@c @implementation
public func promptsel_version_string() -> UnsafePointer<CChar>? {
    UnsafePointer(versionCString)
}

/// "MAJOR.MINOR.PATCH" built once from the header's macros, the version's only
/// source (the Python package's metadata reads the same macros). Never freed: the
/// header promises a static string.
nonisolated(unsafe) private let versionCString: UnsafeMutablePointer<CChar> = {
    let text = "\(PROMPTSEL_VERSION_MAJOR).\(PROMPTSEL_VERSION_MINOR).\(PROMPTSEL_VERSION_PATCH)"
    let bytes = Array(text.utf8CString)
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
    buffer.initialize(from: bytes, count: bytes.count)
    return buffer
}()

@c @implementation
public func promptsel_abi_version() -> UInt32 {
    UInt32(PROMPTSEL_ABI_VERSION)
}

@c @implementation
public func promptsel_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
    guard let s = PromptSelStatus(rawValue: status) else { return cString("unknown status") }
    return cString(s.text)
}

@c @implementation
public func promptsel_last_error() -> UnsafePointer<CChar>? {
    LastError.current
}
