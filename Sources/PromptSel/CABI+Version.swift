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
    cString(promptselVersionString)
}

/// Keep in step with PROMPTSEL_VERSION_* (the ABI tests compare them).
let promptselVersionString: StaticString = "0.2.0"

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
