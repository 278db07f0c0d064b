import CPromptSel
import PromptSelCore

// The method registry and parameter tables, as the library describes them.

@c @implementation
public func promptsel_methods(_ out: UnsafeMutablePointer<CChar>?, _ out_cap: Int,
                              _ out_len: UnsafeMutablePointer<Int>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        try Arg.text(MethodRegistry.names.map { $0 + "\n" }.joined(), out, out_cap, out_len)
    }
}

@c @implementation
public func promptsel_method_describe(_ out: UnsafeMutablePointer<CChar>?, _ out_cap: Int,
                                      _ out_len: UnsafeMutablePointer<Int>?,
                                      _ method: UnsafePointer<CChar>?) -> Int32 {
    bridge { () throws(PromptSelError) in
        let name = try Arg.string(method, "method")
        try Arg.text(try MethodRegistry.model(named: name).info.described, out, out_cap, out_len)
    }
}
