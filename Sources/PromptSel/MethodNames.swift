import PromptSelCore

/// Static C strings of the method names, built once: `promptsel_selector_method`
/// returns one, and the header promises the pointer never dies.
enum MethodNames {
    nonisolated(unsafe) private static let table: [(String, UnsafeMutablePointer<CChar>)] =
        MethodRegistry.names.map { name in
            let bytes = Array(name.utf8CString)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
            p.initialize(from: bytes, count: bytes.count)
            return (name, p)
        }

    static func cString(_ name: String) -> UnsafePointer<CChar>? {
        table.first { $0.0 == name }.map { UnsafePointer($0.1) }
    }
}
