/// A semantic version as the `semVer*` operators read it: SemVer 2.0.0, except that a missing minor
/// or patch component counts as zero (`2` is `2.0.0`, `2.1-rc` is `2.1.0-rc`), as in LaunchDarkly's
/// `go-semver` with `ParseModeAllowMissingMinorAndPatch`.
struct SemanticVersion: Sendable, Hashable {
    var major: Int
    var minor: Int
    var patch: Int
    /// Dot-separated pre-release identifiers; empty for a release.
    var prerelease: [Substring]

    /// Parses `text`, or returns nil if it is not a valid (lenient) semantic version.
    init?(_ text: String) {
        // Scans the string's own bytes: evaluation parses context values here, and a release version
        // (no pre-release identifiers) must not allocate.
        var text = text
        guard let version = text.withUTF8({ SemanticVersion(bytes: $0) }) else { return nil }
        self = version
    }

    private init?(bytes: UnsafeBufferPointer<UInt8>) {
        // Go's scanner treats NUL and non-ASCII bytes as terminating errors.
        guard !bytes.contains(where: { $0 == 0 || $0 > 0x7F }) else { return nil }
        var i = 0
        let dot = UInt8(ascii: "."), hyphen = UInt8(ascii: "-"), plus = UInt8(ascii: "+")
        func component(dotEnds: Bool) -> (Int, UInt8?)? {
            let start = i
            while i < bytes.count, !((dotEnds && bytes[i] == dot) || bytes[i] == hyphen || bytes[i] == plus) { i += 1 }
            let digits = bytes[start..<i]
            let terminator: UInt8? = i < bytes.count ? bytes[i] : nil
            if terminator != nil { i += 1 }
            guard let value = SemanticVersion.parseNumeric(digits) else { return nil }
            return (value, terminator)
        }
        guard let (major, t1) = component(dotEnds: true) else { return nil }
        var terminator = t1
        var minor = 0, patch = 0
        if terminator == dot {
            guard let (m, t2) = component(dotEnds: true) else { return nil }
            minor = m
            terminator = t2
            if terminator == dot {
                guard let (p, t3) = component(dotEnds: false) else { return nil }
                patch = p
                terminator = t3
            }
        }
        var prerelease: [Substring] = []
        if terminator == hyphen {
            let start = i
            while i < bytes.count, bytes[i] != plus { i += 1 }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            guard !text.isEmpty else { return nil }
            prerelease = text.split(separator: ".", omittingEmptySubsequences: false)
            for identifier in prerelease {
                guard SemanticVersion.isIdentifier(identifier) else { return nil }
                if identifier.count > 1, identifier.utf8.allSatisfy(Self.isDigit), identifier.utf8.first == UInt8(ascii: "0") {
                    return nil
                }
            }
            terminator = i < bytes.count ? bytes[i] : nil
            if terminator != nil { i += 1 }
        }
        if terminator == plus {
            let build = String(decoding: bytes[i...], as: UTF8.self)
            guard !build.isEmpty else { return nil }
            for identifier in build.split(separator: ".", omittingEmptySubsequences: false) {
                guard Self.isIdentifier(identifier) else { return nil }
            }
        }
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isIdentifier(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { isDigit($0) || ($0 | 0x20 >= UInt8(ascii: "a") && $0 | 0x20 <= UInt8(ascii: "z"))
            || $0 == UInt8(ascii: "-") }
    }

    /// A non-negative decimal without leading zeros. Arithmetic wraps like Go's `int` so that huge
    /// components compare exactly as they do in LaunchDarkly's Go evaluator.
    private static func parseNumeric(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return nil }
        if digits.count > 1, digits.first == UInt8(ascii: "0") { return nil }
        var n = 0
        for d in digits { n = n &* 10 &+ Int(d - UInt8(ascii: "0")) }
        return n
    }

    /// SemVer precedence: -1, 0 or 1. Build metadata is ignored.
    func compare(_ other: SemanticVersion) -> Int {
        if major != other.major { return major < other.major ? -1 : 1 }
        if minor != other.minor { return minor < other.minor ? -1 : 1 }
        if patch != other.patch { return patch < other.patch ? -1 : 1 }
        switch (prerelease.isEmpty, other.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        for (a, b) in zip(prerelease, other.prerelease) {
            let aNumeric = a.utf8.allSatisfy(Self.isDigit)
            let bNumeric = b.utf8.allSatisfy(Self.isDigit)
            switch (aNumeric, bNumeric) {
            case (true, true):
                // Identifiers have no leading zeros, so a longer one is larger.
                if a.utf8.count != b.utf8.count { return a.utf8.count < b.utf8.count ? -1 : 1 }
                if !a.utf8.elementsEqual(b.utf8) { return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1 }
            case (true, false): return -1
            case (false, true): return 1
            case (false, false):
                if !a.utf8.elementsEqual(b.utf8) { return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1 }
            }
        }
        if prerelease.count != other.prerelease.count { return prerelease.count < other.prerelease.count ? -1 : 1 }
        return 0
    }
}
