/// `SelectionModel.unknownCount` of every model, in one place: a lookup per id that
/// never inserts (the C layer's memory preflight sizes table growth with it).
extension SelectionModel {
    /// Without a table to look in: every id counts as new (an upper bound).
    public func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int { ids.count }
}

extension PromptTable {
    func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int {
        var n = 0
        for id in ids where index(of: id) == nil { n += 1 }
        return n
    }
}

extension FeatureModel {
    public func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int { table.unknownCount(ids) }
}

extension MoPPSModel {
    public func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int { table.unknownCount(ids) }
}

extension DPSModel {
    public func unknownCount(_ ids: UnsafeBufferPointer<Int64>) -> Int { table.unknownCount(ids) }
}
