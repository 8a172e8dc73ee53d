/// A reference to a context attribute, possibly nested: LaunchDarkly's `ldattr.Ref`.
///
/// Clause attributes, rollout `bucketBy` and private-attribute lists use it. Whether a string is a
/// path depends on where it appears: when the owning clause or rollout names a context kind, `/a/b`
/// is a path (with `~1` for `/` and `~0` for `~`); without one, the whole string is a literal
/// top-level attribute name, for compatibility with pre-context data.
public struct AttributeReference: Sendable, Hashable, CustomStringConvertible {
    /// Why a reference is unusable.
    public enum Problem: String, Sendable, Hashable {
        case empty = "attribute reference is empty"
        case extraSlash = "attribute reference has an empty path component"
        case invalidEscape = "attribute reference has an invalid escape sequence"
    }

    /// The text the reference was made from.
    public let rawValue: String
    /// The property names to follow, outermost first; empty when the reference is invalid.
    public let components: [String]
    /// Why the reference is invalid, or nil.
    public let problem: Problem?

    /// Parses `/`-path syntax: a string not starting with `/` is a single attribute name.
    public init(reference: String) {
        rawValue = reference
        if reference.isEmpty || reference == "/" {
            components = []
            problem = .empty
            return
        }
        guard reference.utf8.first == UInt8(ascii: "/") else {
            components = [reference]
            problem = nil
            return
        }
        var parsed: [String] = []
        for part in reference.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard !part.isEmpty else {
                components = []
                problem = .extraSlash
                return
            }
            guard let name = Self.unescape(part) else {
                components = []
                problem = .invalidEscape
                return
            }
            parsed.append(name)
        }
        components = parsed
        problem = nil
    }

    /// A literal attribute name: no path syntax, no escapes.
    public init(literal name: String) {
        rawValue = name
        if name.isEmpty {
            components = []
            problem = .empty
        } else {
            components = [name]
            problem = nil
        }
    }

    /// The reference as LaunchDarkly reads a clause's `attribute` or a rollout's `bucketBy`: literal
    /// when the owner has no context kind, path syntax when it has one.
    public init(_ string: String, ownerContextKind: String?) {
        if let kind = ownerContextKind, !kind.isEmpty {
            self.init(reference: string)
        } else {
            self.init(literal: string)
        }
    }

    /// True when the reference can be used.
    @inlinable public var isValid: Bool { problem == nil }

    public var description: String { rawValue }

    private static func unescape(_ bytes: Substring.UTF8View.SubSequence) -> String? {
        guard bytes.contains(UInt8(ascii: "~")) else { return String(Substring(bytes)) }
        var out: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "~") else {
                out.append(byte)
                continue
            }
            switch iterator.next() {
            case UInt8(ascii: "0"): out.append(UInt8(ascii: "~"))
            case UInt8(ascii: "1"): out.append(UInt8(ascii: "/"))
            default: return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
