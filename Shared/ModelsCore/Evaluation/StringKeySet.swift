/// Byte-wise string equality, as Go and Python compare strings. Swift's `==` treats canonically
/// equivalent Unicode strings (`é` precomposed and decomposed) as equal; LaunchDarkly does not.
@inline(__always) func utf8Equal(_ a: String, _ b: String) -> Bool {
    let fast = a.utf8.withContiguousStorageIfAvailable { pa in
        b.utf8.withContiguousStorageIfAvailable { pb in
            pa.count == pb.count && (pa.count == 0 || memcmpEqual(pa.baseAddress!, pb.baseAddress!, pa.count))
        }
    }
    if let result = fast ?? nil { return result }
    return a.utf8.elementsEqual(b.utf8)
}

@inline(__always) private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    for i in 0..<count where a[i] != b[i] { return false }
    return true
}

/// A string compared and hashed by its UTF-8 bytes.
struct UTF8Key: Hashable, Sendable {
    let string: String
    init(_ string: String) { self.string = string }
    static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool { utf8Equal(lhs.string, rhs.string) }
    func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A set of keys (target values, segment includes) with byte-wise membership. Small sets are
/// scanned linearly, which beats hashing for the handful of keys most targets hold.
struct StringKeySet: Sendable {
    private let small: [String]
    private let large: Set<UTF8Key>?

    private static let linearLimit = 8

    init(_ keys: [String]) {
        if keys.count <= Self.linearLimit {
            small = keys
            large = nil
        } else {
            small = []
            large = Set(keys.map(UTF8Key.init))
        }
    }

    var isEmpty: Bool { small.isEmpty && (large?.isEmpty ?? true) }

    func contains(_ key: String) -> Bool {
        if let large { return large.contains(UTF8Key(key)) }
        for candidate in small where utf8Equal(candidate, key) { return true }
        return false
    }
}
