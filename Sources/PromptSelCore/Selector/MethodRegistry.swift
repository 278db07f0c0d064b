/// The one list of selection methods: adding a method is adding its model type here
/// (and its folder under Methods/). Everything else (the C ABI, checkpoints, the
/// Python package) finds methods through this list.
public enum MethodRegistry {
    /// Immutable after initialisation (metatypes only), so shared across threads safely.
    nonisolated(unsafe) public static let models: [any SelectionModel.Type] = [
        MoPPSModel.self,
        DPSModel.self,
        GPSModel.self,
        HybridModel.self,
    ]

    /// Names announced but not built yet: asking for one says so.
    static let reserved: [String: String] = [:]

    public static var names: [String] { models.map { $0.info.name } }

    public static func model(named name: String) throws(PromptSelError) -> any SelectionModel.Type {
        if let m = models.first(where: { $0.info.name == name }) { return m }
        if let why = reserved[name] { throw PromptSelError(.unsupported, "method \(name): \(why)") }
        throw .invalid("unknown method '\(name)'"
            + (Parameters.nearest(name, in: names).map { "; did you mean '\($0)'?" } ?? "")
            + " (available: \(names.joined(separator: ", ")))")
    }

    public static func model(checkpointID id: UInt32) -> (any SelectionModel.Type)? {
        models.first { $0.info.checkpointID == id }
    }
}
