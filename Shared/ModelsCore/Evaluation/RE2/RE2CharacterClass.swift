import Synchronization

/// A set of Unicode code points as sorted, disjoint, non-adjacent closed ranges, stored flat as
/// `[lo0, hi0, lo1, hi1, …]` (the representation of Go's `regexp/syntax`).
struct RE2CharacterClass: Sendable, Equatable {
    static let maxRune: UInt32 = 0x10FFFF

    private(set) var ranges: [UInt32]

    init() { ranges = [] }

    /// A class from unsorted, possibly overlapping `[lo, hi, …]` pairs.
    init(unsorted pairs: [UInt32]) {
        ranges = pairs
        clean()
    }

    var isEmpty: Bool { ranges.isEmpty }

    /// The single code point of a one-element class.
    var singleRune: UInt32? { ranges.count == 2 && ranges[0] == ranges[1] ? ranges[0] : nil }

    mutating func add(_ lo: UInt32, _ hi: UInt32) {
        ranges.append(lo)
        ranges.append(hi)
    }

    mutating func add(_ other: RE2CharacterClass) { ranges.append(contentsOf: other.ranges) }

    /// Sorts the ranges and merges overlapping and adjacent ones.
    mutating func clean() {
        guard ranges.count > 2 else { return }
        var pairs: [(UInt32, UInt32)] = []
        pairs.reserveCapacity(ranges.count / 2)
        var i = 0
        while i < ranges.count {
            pairs.append((ranges[i], ranges[i + 1]))
            i += 2
        }
        pairs.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 > $1.1) }
        var merged: [UInt32] = [pairs[0].0, pairs[0].1]
        for (lo, hi) in pairs.dropFirst() {
            if lo <= merged[merged.count - 1] &+ 1 {
                if hi > merged[merged.count - 1] { merged[merged.count - 1] = hi }
            } else {
                merged.append(lo)
                merged.append(hi)
            }
        }
        ranges = merged
    }

    /// The complement within [0, 0x10FFFF]; `self` must be clean.
    func negated() -> RE2CharacterClass {
        var out = RE2CharacterClass()
        var next: UInt32 = 0
        var i = 0
        while i < ranges.count {
            if ranges[i] > next { out.add(next, ranges[i] - 1) }
            next = ranges[i + 1] &+ 1
            i += 2
        }
        if next <= Self.maxRune { out.add(next, Self.maxRune) }
        return out
    }

    /// Adds every code point equivalent under simple case folding to one already in the class
    /// (Go's `appendFoldedClass`); `self` must be clean.
    func caseFolded() -> RE2CharacterClass {
        // Folding a large class (`\pL`) takes about a millisecond; a pattern may repeat it thousands of
        // times (`(?i)\pL\pL…`), so large results are remembered.
        guard ranges.count >= 64 else { return computeCaseFolded() }
        if let known = Self.foldedCache.withLock({ $0[ranges] }) { return known }
        let folded = computeCaseFolded()
        Self.foldedCache.withLock { cache in
            if cache.count >= 256 { cache.removeAll() }
            cache[ranges] = folded
        }
        return folded
    }

    private static let foldedCache = Mutex<[[UInt32]: RE2CharacterClass]>([:])

    private func computeCaseFolded() -> RE2CharacterClass {
        var out = self
        for rune in RE2Unicode.foldableRunes where contains(rune) {
            for other in RE2Unicode.orbit(of: rune) { out.add(other, other) }
        }
        out.clean()
        return out
    }

    /// Binary search; `self` must be clean.
    func contains(_ rune: UInt32) -> Bool {
        var lo = 0
        var hi = ranges.count / 2
        while lo < hi {
            let mid = (lo + hi) / 2
            if rune < ranges[2 * mid] {
                hi = mid
            } else if rune > ranges[2 * mid + 1] {
                lo = mid + 1
            } else {
                return true
            }
        }
        return false
    }

    // MARK: Fixed classes (ASCII, as in RE2)

    /// `\d`: ASCII digits only.
    static let perlDigit = RE2CharacterClass(unsorted: [0x30, 0x39])
    /// `\s`: tab, newline, form feed, carriage return, space (not vertical tab, as in RE2).
    static let perlSpace = RE2CharacterClass(unsorted: [0x09, 0x0A, 0x0C, 0x0D, 0x20, 0x20])
    /// `\w`: ASCII letters, digits and underscore.
    static let perlWord = RE2CharacterClass(unsorted: [0x30, 0x39, 0x41, 0x5A, 0x5F, 0x5F, 0x61, 0x7A])

    /// The POSIX classes allowed inside brackets (`[[:alpha:]]`); all ASCII.
    static let posix: [String: RE2CharacterClass] = [
        "alnum": RE2CharacterClass(unsorted: [0x30, 0x39, 0x41, 0x5A, 0x61, 0x7A]),
        "alpha": RE2CharacterClass(unsorted: [0x41, 0x5A, 0x61, 0x7A]),
        "ascii": RE2CharacterClass(unsorted: [0x00, 0x7F]),
        "blank": RE2CharacterClass(unsorted: [0x09, 0x09, 0x20, 0x20]),
        "cntrl": RE2CharacterClass(unsorted: [0x00, 0x1F, 0x7F, 0x7F]),
        "digit": RE2CharacterClass(unsorted: [0x30, 0x39]),
        "graph": RE2CharacterClass(unsorted: [0x21, 0x7E]),
        "lower": RE2CharacterClass(unsorted: [0x61, 0x7A]),
        "print": RE2CharacterClass(unsorted: [0x20, 0x7E]),
        "punct": RE2CharacterClass(unsorted: [0x21, 0x2F, 0x3A, 0x40, 0x5B, 0x60, 0x7B, 0x7E]),
        "space": RE2CharacterClass(unsorted: [0x09, 0x0D, 0x20, 0x20]),
        "upper": RE2CharacterClass(unsorted: [0x41, 0x5A]),
        "word": RE2CharacterClass(unsorted: [0x30, 0x39, 0x41, 0x5A, 0x5F, 0x5F, 0x61, 0x7A]),
        "xdigit": RE2CharacterClass(unsorted: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66]),
    ]

    /// ASCII word character, for `\b` and `\B`.
    @inline(__always)
    static func isWordRune(_ rune: UInt32) -> Bool {
        (rune >= 0x61 && rune <= 0x7A) || (rune >= 0x41 && rune <= 0x5A) || (rune >= 0x30 && rune <= 0x39) || rune == 0x5F
    }
}
