/// The settings of one selector: every parameter of its method, each set or at its
/// default. Built from `key=value` text (whitespace- or comma-separated), which is
/// also how checkpoints store it, by name, so a new parameter needs no format bump.
public struct Parameters: Equatable, Sendable {
    public let specs: [ParameterSpec]
    /// Values in `specs` order.
    public private(set) var values: [ParameterValue]

    public static func == (a: Parameters, b: Parameters) -> Bool {
        a.specs.map(\.name) == b.specs.map(\.name) && a.values == b.values
    }

    /// Every parameter at its default.
    public init(specs: [ParameterSpec]) {
        self.specs = specs
        values = specs.map(\.defaultValue)
    }

    /// Defaults overridden by `text`, e.g. "seed=7 strategy=threshold lower=0.2".
    /// Unknown keys, repeated keys and bad values throw; the message names the
    /// nearest valid key for a misspelling.
    public init(specs: [ParameterSpec], text: String, method: String) throws(PromptSelError) {
        self.init(specs: specs)
        var seen = Set<String>()
        for item in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "\t" }) {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw .invalid("parameter '\(item)' is not of the form key=value")
            }
            let key = String(item[..<eq])
            guard let i = specs.firstIndex(where: { $0.name == key }) else {
                throw .invalid("unknown parameter '\(key)' for method \(method)"
                    + (Parameters.nearest(key, in: specs.map(\.name)).map { "; did you mean '\($0)'?" } ?? "")
                    + " (it takes \(specs.map(\.name).joined(separator: ", ")))")
            }
            guard seen.insert(key).inserted else { throw .invalid("parameter '\(key)' is given twice") }
            values[i] = try specs[i].parse(item[item.index(after: eq)...])
        }
    }

    /// The canonical text: every parameter, in declaration order.
    public var text: String {
        zip(specs, values).map { "\($0.name)=\($1)" }.joined(separator: " ")
    }

    public func value(_ name: String) -> ParameterValue {
        guard let i = specs.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("no parameter \(name)")  // a programming error in a model, never input
        }
        return values[i]
    }

    public func real(_ name: String) -> Double {
        if case .real(let v) = value(name) { return v }
        preconditionFailure("\(name) is not real")
    }

    public func choice(_ name: String) -> String {
        if case .choice(let v) = value(name) { return v }
        preconditionFailure("\(name) is not a choice")
    }

    public func flag(_ name: String) -> Bool {
        if case .flag(let v) = value(name) { return v }
        preconditionFailure("\(name) is not a flag")
    }

    public func integer(_ name: String) -> Int {
        if case .integer(let v) = value(name) { return v }
        preconditionFailure("\(name) is not an integer")
    }

    public func unsigned(_ name: String) -> UInt64 {
        if case .unsigned(let v) = value(name) { return v }
        preconditionFailure("\(name) is not unsigned")
    }

    /// Sets one value (type and domain checked).
    public mutating func set(_ name: String, _ v: ParameterValue) throws(PromptSelError) {
        guard let i = specs.firstIndex(where: { $0.name == name }) else { throw .invalid("unknown parameter '\(name)'") }
        try specs[i].check(v)
        values[i] = v
    }

    /// The valid key closest to `key` by edit distance, if it is plausibly a typo.
    static func nearest(_ key: String, in names: [String]) -> String? {
        let best = names.map { ($0, editDistance(Array(key.utf8), Array($0.utf8))) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, key.utf8.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
