/// One setting of a selection method, declared once: its name, type, default,
/// allowed values and a one-line doc. The library owns these tables and describes
/// them to callers (`promptsel_method_describe`), so Python, the verl adapter and
/// C programs read names and defaults instead of restating them (as LightGBM's
/// `config.h` does for its parameters).
public struct ParameterSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A finite double in [min, max], or (min, max] when `minOpen`.
        case real(min: Double, max: Double, minOpen: Bool)
        /// A seed: 0 ... UInt64.max.
        case unsigned
        /// A size or count in [min, max].
        case integer(min: Int, max: Int)
        case flag
        case choice([String])
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: ParameterValue
    public let doc: String

    public static func real(_ name: String, _ defaultValue: Double, in range: ClosedRange<Double>,
                            minOpen: Bool = false, _ doc: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .real(min: range.lowerBound, max: range.upperBound, minOpen: minOpen),
                      defaultValue: .real(defaultValue), doc: doc)
    }

    public static func choice(_ name: String, _ defaultValue: String, _ choices: [String], _ doc: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .choice(choices), defaultValue: .choice(defaultValue), doc: doc)
    }

    public static func flag(_ name: String, _ defaultValue: Bool, _ doc: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .flag, defaultValue: .flag(defaultValue), doc: doc)
    }

    public static func integer(_ name: String, _ defaultValue: Int, in range: ClosedRange<Int>, _ doc: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .integer(min: range.lowerBound, max: range.upperBound),
                      defaultValue: .integer(defaultValue), doc: doc)
    }

    public static func unsigned(_ name: String, _ defaultValue: UInt64, _ doc: String) -> ParameterSpec {
        ParameterSpec(name: name, kind: .unsigned, defaultValue: .unsigned(defaultValue), doc: doc)
    }

    /// "real", "uint64", "bool" or "choice", as `promptsel_method_describe` prints it.
    public var typeName: String {
        switch kind {
        case .real: "real"
        case .unsigned: "uint64"
        case .integer: "int"
        case .flag: "bool"
        case .choice: "choice"
        }
    }

    /// The allowed values as text: "[0, 1]", "(0, 1]", "topk|threshold|uniform".
    public var domain: String {
        switch kind {
        case let .real(lo, hi, open): "\(open ? "(" : "[")\(lo), \(hi)]"
        case .unsigned: "[0, \(UInt64.max)]"
        case let .integer(lo, hi): "[\(lo), \(hi)]"
        case .flag: "true|false"
        case .choice(let c): c.joined(separator: "|")
        }
    }

    /// Parses `text` as this parameter's value; the error names the parameter.
    public func parse(_ text: Substring) throws(PromptSelError) -> ParameterValue {
        switch kind {
        case .real:
            guard let v = Double(text) else { throw .invalid("\(name) must be a number, got '\(text)'") }
            try check(.real(v))
            return .real(v)
        case .unsigned:
            guard let v = UInt64(text) else { throw .invalid("\(name) must be an integer in [0, 2^64), got '\(text)'") }
            return .unsigned(v)
        case .integer:
            guard let v = Int(text) else { throw .invalid("\(name) must be an integer, got '\(text)'") }
            try check(.integer(v))
            return .integer(v)
        case .flag:
            switch text {
            case "true", "1": return .flag(true)
            case "false", "0": return .flag(false)
            default: throw .invalid("\(name) must be true or false, got '\(text)'")
            }
        case .choice(let choices):
            guard choices.contains(String(text)) else {
                throw .invalid("\(name) must be one of \(choices.joined(separator: ", ")), got '\(text)'")
            }
            return .choice(String(text))
        }
    }

    /// Checks a value of the right type against the domain.
    public func check(_ value: ParameterValue) throws(PromptSelError) {
        switch (kind, value) {
        case let (.real(lo, hi, open), .real(v)):
            guard v.isFinite else { throw .invalid("\(name) must be a finite number, got \(v)") }
            guard (open ? v > lo : v >= lo) && v <= hi else { throw .range("\(name) must lie in \(domain), got \(v)") }
        case (.unsigned, .unsigned), (.flag, .flag):
            return
        case let (.integer(lo, hi), .integer(v)):
            guard v >= lo && v <= hi else { throw .range("\(name) must lie in \(domain), got \(v)") }
        case let (.choice(choices), .choice(v)):
            guard choices.contains(v) else { throw .invalid("\(name) must be one of \(choices.joined(separator: ", ")), got '\(v)'") }
        default:
            throw .invalid("\(name) must be a \(typeName), got \(value)")
        }
    }
}

/// A parameter value. `description` is the canonical text form: doubles in their
/// shortest round-trip form, so text -> value -> text is exact (checkpoints store it).
public enum ParameterValue: Equatable, Sendable, CustomStringConvertible {
    case real(Double)
    case unsigned(UInt64)
    case integer(Int)
    case flag(Bool)
    case choice(String)

    public var description: String {
        switch self {
        case .real(let v): v.description
        case .unsigned(let v): v.description
        case .integer(let v): v.description
        case .flag(let v): v ? "true" : "false"
        case .choice(let v): v
        }
    }
}

/// The settings every method has, declared once.
public enum CommonParameters {
    public static func specs(strategies: [String], defaultStrategy: String) -> [ParameterSpec] {
        [
            .unsigned("seed", 0, "seeds the selector's random generator (Thompson draws, ties, uniform picks)"),
            .choice("strategy", defaultStrategy, strategies, "how a batch is chosen from the candidates' scores"),
            .flag("no_update", false, "updates are validated but leave the model frozen (the offline-filtering baseline)"),
        ]
    }
}

/// Bounds shared by the methods' pseudo-counts.
public enum CountBounds {
    /// Range of a pseudo-count accepted anywhere (priors, imported or loaded
    /// posteriors). The top is far beyond any real history and keeps every sum
    /// finite; the bottom keeps the Beta sampler's log-space path finite.
    public static let max = 1e15
    public static let min = 1e-12
    public static let range = min...max
    /// Rollouts of one prompt in one update: with `max` this leaves room for about
    /// a billion steps before a posterior could reach the top.
    public static let maxRollouts: Int32 = 1 << 20
}
