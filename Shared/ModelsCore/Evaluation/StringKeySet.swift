#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-wise string equality, as Go and Python compare strings. Swift's `==` treats canonically
/// equivalent Unicode strings (`é` precomposed and decomposed) as equal; LaunchDarkly does not.
@inline(__always) func utf8Equal(_ a: String, _ b: String) -> Bool {
    withUTF8Bytes(a, b) { a, b in a.count == b.count && (a.count == 0 || bytesEqual(a.baseAddress!, b.baseAddress!, a.count)) }
}

/// Equality of `count` bytes. Keys, kinds and attribute names are mostly short, and for them a
/// call to `memcmp` cost more than the comparison: up to 16 bytes are compared inline as two
/// overlapping 8-byte words (or byte by byte under 8).
@inline(__always) func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    if count > 16 { return memcmp(a, b, count) == 0 }
    if count >= 8 {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        return ra.loadUnaligned(as: UInt64.self) == rb.loadUnaligned(as: UInt64.self)
            && ra.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == rb.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    for i in 0..<count where a[i] != b[i] { return false }
    return true
}

/// Calls `body` with the UTF-8 bytes of two strings, without copying native strings.
@inline(__always) func withUTF8Bytes<R>(
    _ a: String, _ b: String, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R
) -> R {
    // Native strings expose their bytes without a copy (and without the retain a `var` copy costs).
    if let result = a.utf8.withContiguousStorageIfAvailable({ a in b.utf8.withContiguousStorageIfAvailable { b in body(a, b) } }),
       let result {
        return result
    }
    var a = a
    var b = b
    return a.withUTF8 { a in b.withUTF8 { b in body(a, b) } }
}

/// The length and first 16 UTF-8 bytes of a string, computed once where the string is stored.
/// Keys, kinds and attribute names are mostly at most 16 bytes long: two of them are then equal
/// exactly when their prefixes are, and comparing three words is much cheaper than reaching the
/// strings' bytes. Longer strings are equal when the prefixes are and the full bytes are.
struct UTF8Prefix: Sendable, Equatable {
    let count: Int
    let head: UInt64
    let tail: UInt64

    /// The prefix of `user`, the default context kind.
    static let user = UTF8Prefix("user")

    init(_ string: String) {
        var string = string
        (count, head, tail) = string.withUTF8 { bytes in
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { raw in
                for i in 0..<min(bytes.count, 16) { raw[i] = bytes[i] }
            }
            return (bytes.count, words.0, words.1)
        }
    }

    /// True when the string `a` (prefix `self`) and `b` (prefix `other`) are byte-wise equal.
    @inline(__always) func equals(_ other: UTF8Prefix, strings a: String, _ b: String) -> Bool {
        head == other.head && tail == other.tail && count == other.count && (count <= 16 || Self.longEqual(a, b))
    }

    /// Out of line, so that the callers' fast paths stay small (no register spills for the rare case).
    @inline(never) static func longEqual(_ a: String, _ b: String) -> Bool { utf8Equal(a, b) }
}

/// A fast, deterministic string hash for the evaluator's lookup tables. Tables are built from flag
/// data, never from request input, so a keyed hash (SipHash, Swift's default) buys nothing here and
/// costs a hash per probe; with FNV-1a a context key is hashed once per context and reused.
enum StringHash {
    @inline(__always) static func fnv1a(_ string: String) -> UInt64 {
        var s = string
        return s.withUTF8 { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            return hash
        }
    }
}

/// A set of keys (target values, segment includes) with byte-wise membership, probed with the
/// key's precomputed ``StringHash``.
struct StringKeySet: Sendable {
    private let keys: [String]
    private let hashes: [UInt64]
    private let prefixes: [UTF8Prefix]
    /// Open-addressing table of indexes into `keys` (-1 = empty), for sets too big to scan.
    private let table: [Int32]
    private let mask: Int

    private static let linearLimit = 8

    init(_ keys: [String]) {
        self.keys = keys
        hashes = keys.map(StringHash.fnv1a)
        prefixes = keys.map(UTF8Prefix.init)
        guard keys.count > Self.linearLimit else {
            table = []
            mask = 0
            return
        }
        var capacity = 16
        while capacity < keys.count * 2 { capacity <<= 1 }
        var table = [Int32](repeating: -1, count: capacity)
        for (index, hash) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: hash) & (capacity - 1)
            while table[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            table[slot] = Int32(index)
        }
        self.table = table
        mask = capacity - 1
    }

    var isEmpty: Bool { keys.isEmpty }

    /// Membership of a key whose hash and prefix were not computed in advance.
    @inline(__always) func contains(_ key: String) -> Bool {
        contains(key, hash: StringHash.fnv1a(key), prefix: UTF8Prefix(key))
    }

    /// Membership of `key`, whose hash is `hash` and prefix `prefix`.
    @inline(__always) func contains(_ key: String, hash: UInt64, prefix: UTF8Prefix) -> Bool {
        index(of: key, hash: hash, prefix: prefix) != nil
    }

    /// The position of `key` (hash `hash`, prefix `prefix`) in the list the set was made from (the first, for
    /// duplicates).
    @inline(__always) func index(of key: String, hash: UInt64, prefix: UTF8Prefix) -> Int? {
        if table.isEmpty {
            for i in hashes.indices where hashes[i] == hash && prefixes[i].equals(prefix, strings: keys[i], key) { return i }
            return nil
        }
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = Int(table[slot])
            if index < 0 { return nil }
            if hashes[index] == hash, prefixes[index].equals(prefix, strings: keys[index], key) { return index }
            slot = (slot + 1) & mask
        }
    }
}

/// An immutable string-keyed table probed with precomputed ``StringHash`` values: how evaluation
/// finds prerequisite flags and segments without hashing their keys on every lookup.
struct HashedTable<Value>: Sendable where Value: Sendable {
    private let keys: StringKeySet
    /// The values, in the positions ``index(_:hash:prefix:)`` returns.
    let values: [Value]

    init(_ dictionary: [String: Value]) {
        let entries = Array(dictionary)
        keys = StringKeySet(entries.map(\.key))
        values = entries.map(\.value)
    }
}

extension HashedTable {
    /// The value for `key`, whose hash is `hash` and prefix `prefix`.
    @inline(__always) func value(_ key: String, hash: UInt64, prefix: UTF8Prefix) -> Value? {
        keys.index(of: key, hash: hash, prefix: prefix).map { values[$0] }
    }

    /// The position in ``values`` of `key`, whose hash is `hash` and prefix `prefix`.
    @inline(__always) func index(_ key: String, hash: UInt64, prefix: UTF8Prefix) -> Int? {
        keys.index(of: key, hash: hash, prefix: prefix)
    }
}
