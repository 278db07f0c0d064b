/// Status of an operation. The raw values are the stable `PROMPTSEL_*` codes of
/// `include/promptsel.h`; the ABI tests check that the two agree.
public enum PromptSelStatus: Int32, Sendable {
    /// `PROMPTSEL_OK`
    case ok = 0
    /// `PROMPTSEL_E_INVALID_ARG`: NULL pointer, bad size, NaN, unknown enum value.
    case invalidArgument = -1
    /// `PROMPTSEL_E_BUFFER_TOO_SMALL`
    case bufferTooSmall = -2
    /// `PROMPTSEL_E_OUT_OF_RANGE`: a value outside its domain.
    case outOfRange = -3
    /// `PROMPTSEL_E_UNSUPPORTED`: the method has no such operation.
    case unsupported = -4
    /// `PROMPTSEL_E_IO`
    case io = -5
    /// `PROMPTSEL_E_CORRUPT`: checkpoint bytes fail magic, length or checksum.
    case corrupt = -6
    /// `PROMPTSEL_E_VERSION`: unsupported format or struct version.
    case version = -7
    /// `PROMPTSEL_E_NO_MEMORY`
    case noMemory = -8
    /// `PROMPTSEL_E_INTERNAL`
    case internalError = -99

    /// Static English description, as returned by `promptsel_status_string`.
    public var text: StaticString {
        switch self {
        case .ok: "ok"
        case .invalidArgument: "invalid argument"
        case .bufferTooSmall: "output buffer too small"
        case .outOfRange: "value out of range"
        case .unsupported: "operation not supported by this method"
        case .io: "I/O error"
        case .corrupt: "corrupt or truncated checkpoint"
        case .version: "unsupported version"
        case .noMemory: "out of memory"
        case .internalError: "internal error"
        }
    }
}

/// The one error type of the core: a status code plus a message for the user.
public struct PromptSelError: Error, Equatable, CustomStringConvertible {
    public let status: PromptSelStatus
    public let message: String

    public init(_ status: PromptSelStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    static func invalid(_ m: String) -> PromptSelError { .init(.invalidArgument, m) }
    static func range(_ m: String) -> PromptSelError { .init(.outOfRange, m) }
    static func corrupt(_ m: String) -> PromptSelError { .init(.corrupt, m) }
}
