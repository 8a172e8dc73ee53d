/// The order in which a transaction writes (and so locks) the rows of one table.
///
/// Concurrent chunk commits must lock shared rows in the same order, or they deadlock; which order does not matter,
/// as long as every writer uses the same one. Sorting by the keys' strings made that order lexicographic, but
/// comparing tuples of strings (retaining each one, then comparing Unicode-aware) cost about a sixth of the processor's
/// CPU. Here each row gets a fixed-width key once, built from stable 64-bit hashes of its strings (FNV-1a of the UTF-8
/// bytes: unlike `Hasher`, the same in every process) and its integers, and only rows whose hashes collide are
/// compared by their strings. (Pending exposures and goals are appended, not upserted: they lock nothing and are not
/// sorted.)
struct LockOrder: Comparable, Sendable {
    var primary: UInt64
    var secondary: UInt64
    var first: Int64
    var second: Int64

    init(_ primary: UInt64, _ secondary: UInt64 = 0, _ first: Int64 = 0, _ second: Int64 = 0) {
        self.primary = primary
        self.secondary = secondary
        self.first = first
        self.second = second
    }

    static func < (a: LockOrder, b: LockOrder) -> Bool {
        if a.primary != b.primary { return a.primary < b.primary }
        if a.secondary != b.secondary { return a.secondary < b.secondary }
        if a.first != b.first { return a.first < b.first }
        return a.second < b.second
    }

    /// FNV-1a over each string's UTF-8 bytes, each followed by 0xFF (a byte UTF-8 never contains), so that ("ab", "c")
    /// and ("a", "bc") differ.
    static func hash(_ strings: String...) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for string in strings {
            for byte in string.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}

extension Sequence {
    /// The elements sorted by `key`, then, for the (rare) elements whose keys are equal because hashes collided, by
    /// `tieBreak`, which must be a strict total order of the elements' identities.
    func sorted(lockOrder key: (Element) -> LockOrder, tieBreak: (Element, Element) -> Bool) -> [Element] {
        let elements = Array(self)
        let keys = elements.map(key)
        let order = keys.indices.sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : tieBreak(elements[$0], elements[$1]) }
        return order.map { elements[$0] }
    }
}
