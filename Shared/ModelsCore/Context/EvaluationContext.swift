/// A context is invalid; evaluating with it yields `ERROR`/`USER_NOT_SPECIFIED`.
public struct ContextError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One context of one kind: a user, an organization, a device...
///
/// Immutable, and a class so that evaluation reads its properties in place instead of copying them.
public final class SingleKindContext: Sendable, Hashable, CustomStringConvertible {
    public let kind: String
    public let key: String
    public let name: String?
    public let anonymous: Bool
    /// Every other attribute; never holds `null` (a null attribute is an unset one).
    public let attributes: [String: JSONValue]
    /// Attributes to redact from analytics events (`_meta.privateAttributes`).
    public let privateAttributes: [AttributeReference]
    /// The legacy `secondary` key of old-format users; not used by server-side evaluation.
    public let secondary: String?
    /// FNV-1a hash of `key`, so that target and segment lists are probed without rehashing it.
    let keyHash: UInt64
    /// The attributes again, with their names' FNV-1a hashes, for the evaluator: a linear scan over
    /// precomputed hashes beats hashing the name with SipHash for the few attributes contexts have.
    /// Nil for contexts with many attributes, which use the dictionary.
    private let attributeEntries: [AttributeEntry]?
    /// FNV-1a hash of `kind`: clauses and rollouts find their context by comparing it first.
    let kindHash: UInt64
    let kindPrefix: UTF8Prefix
    let keyPrefix: UTF8Prefix

    public init(
        kind: String = "user", key: String, name: String? = nil, anonymous: Bool = false,
        attributes: [String: JSONValue] = [:], privateAttributes: [AttributeReference] = [], secondary: String? = nil
    ) {
        self.kind = kind
        self.key = key
        self.name = name
        self.anonymous = anonymous
        let attributes = attributes.filter { !$0.value.isNull }
        self.attributes = attributes
        self.privateAttributes = privateAttributes
        self.secondary = secondary
        keyHash = StringHash.fnv1a(key)
        kindHash = StringHash.fnv1a(kind)
        kindPrefix = UTF8Prefix(kind)
        keyPrefix = UTF8Prefix(key)
        attributeEntries = attributes.count <= 16 ? attributes.map(AttributeEntry.init) : nil
    }

    /// A custom attribute prepared for the evaluator.
    struct AttributeEntry: Sendable {
        let name: String
        let hash: UInt64
        let namePrefix: UTF8Prefix
        let value: JSONValue
        /// FNV-1a hash and prefix of a string value, so that `in` clauses probe their key set
        /// without hashing the value on every evaluation.
        let stringHash: UInt64
        let stringPrefix: UTF8Prefix?

        init(_ element: (key: String, value: JSONValue)) {
            name = element.key
            hash = StringHash.fnv1a(element.key)
            namePrefix = UTF8Prefix(element.key)
            value = element.value
            if case .string(let s) = element.value {
                stringHash = StringHash.fnv1a(s)
                stringPrefix = UTF8Prefix(s)
            } else {
                stringHash = 0
                stringPrefix = nil
            }
        }
    }

    /// The custom attribute `name`, whose ``StringHash/fnv1a(_:)`` is `hash`.
    @inline(__always) func attribute(_ name: String, hash: UInt64) -> JSONValue? {
        guard let entries = attributeEntries else { return attributes[name] }
        for entry in entries where entry.hash == hash && utf8Equal(entry.name, name) { return entry.value }
        return nil
    }

    /// Whether the custom attribute `name` (hash `hash`) satisfies `matcher`; nil when absent. The
    /// value is matched in place: returning it would copy it, and copying costs reference counting.
    @inline(__always) func attribute(
        _ name: String, hash: UInt64, prefix: UTF8Prefix, matches matcher: ValueMatcher
    ) -> Bool? {
        guard let entries = attributeEntries else {
            guard let value = attributes[name] else { return nil }
            return matcher.matchesValueOrElement(value)
        }
        for index in entries.indices where entries[index].hash == hash
            && entries[index].namePrefix.equals(prefix, strings: entries[index].name, name) {
            if let stringPrefix = entries[index].stringPrefix, case .string(let s) = entries[index].value {
                return matcher.matchesString(s, hash: entries[index].stringHash, prefix: stringPrefix)
            }
            return matcher.matchesValueOrElement(entries[index].value)
        }
        return nil
    }

    /// The value of a top-level attribute, including the built-ins `kind`, `key`, `name` and
    /// `anonymous` (which is always a boolean).
    public func topLevelValue(_ name: String) -> JSONValue? {
        switch name {
        case "key": return .string(key)
        case "kind": return .string(kind)
        case "name": return self.name.map(JSONValue.string)
        case "anonymous": return .bool(anonymous)
        default: return attributes[name]
        }
    }

    /// The value an attribute reference points to, or nil if it is absent. Path components after
    /// the first index into JSON objects only; anything else (arrays included) is absent.
    public func value(for reference: AttributeReference) -> JSONValue? {
        let components = reference.components
        guard let first = components.first, var value = topLevelValue(first) else { return nil }
        for component in components.dropFirst() {
            guard case .object(let properties) = value, let next = properties[component] else { return nil }
            value = next
        }
        return value
    }

    public static func == (lhs: SingleKindContext, rhs: SingleKindContext) -> Bool {
        lhs === rhs
            || (lhs.kind == rhs.kind && lhs.key == rhs.key && lhs.name == rhs.name && lhs.anonymous == rhs.anonymous
                && lhs.attributes == rhs.attributes && lhs.privateAttributes == rhs.privateAttributes
                && lhs.secondary == rhs.secondary)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(key)
        hasher.combine(attributes)
    }

    public var description: String {
        var w = JSONWriter()
        writeProperties(to: &w, includeKind: true)
        return w.string
    }
}

/// The subject of an evaluation: a single-kind context or a multi-kind context.
///
/// A multi-kind context with one member is the same as that single-kind context, as in
/// LaunchDarkly's SDKs.
public struct EvaluationContext: Sendable, Hashable {
    /// The individual contexts, ordered by kind; exactly one for a single-kind context.
    public let individualContexts: [SingleKindContext]
    /// The same contexts, unretained (`individualContexts` keeps them alive), for the evaluator: it
    /// reads them without the retain/release pair that loading a class reference costs.
    let unmanagedContexts: [Unmanaged<SingleKindContext>]
    /// A 64-bit hash of ``fullyQualifiedKey``, computed once: an SDK that deduplicates contexts for
    /// analytics on every evaluation compares it instead of building and hashing the key. Equal keys
    /// have equal hashes; different keys rarely do (FNV-1a based, not for adversarial uses); its bits
    /// are well mixed.
    public let fullyQualifiedKeyHash: UInt64
    /// A 64-bit hash of the set of kinds (for one kind, the kind's FNV-1a hash), computed once, so
    /// that analytics can tell which kinds a flag was evaluated for without reading the kinds.
    public let kindsHash: UInt64

    /// A single-kind context.
    public init(_ context: SingleKindContext) {
        individualContexts = [context]
        unmanagedContexts = [Unmanaged.passUnretained(context)]
        (fullyQualifiedKeyHash, kindsHash) = Self.hashes(of: individualContexts)
    }

    /// ``fullyQualifiedKeyHash`` and ``kindsHash`` of `contexts` (sorted by kind); the key hash is
    /// finalized (splitmix64), so that its low bits can index a table directly.
    private static func hashes(of contexts: [SingleKindContext]) -> (key: UInt64, kinds: UInt64) {
        if contexts.count == 1 {
            let only = contexts[0]
            // A user's fully-qualified key is its key; any other kind's is `kind:key`.
            let key = only.kind == "user" ? only.keyHash : mix(mix(0xcbf2_9ce4_8422_2325, only.kindHash), only.keyHash)
            return (finalized(key), only.kindHash)
        }
        var key: UInt64 = 0x84222325_cbf29ce4
        var kinds: UInt64 = 0x84222325_cbf29ce4
        for context in contexts {
            key = mix(mix(key, context.kindHash), context.keyHash)
            kinds = mix(kinds, context.kindHash)
        }
        return (finalized(key), kinds)
    }

    /// splitmix64's finalizer: every input bit reaches every output bit.
    private static func finalized(_ hash: UInt64) -> UInt64 {
        var mixed = hash ^ (hash >> 30)
        mixed = mixed &* 0xbf58_476d_1ce4_e5b9
        mixed ^= mixed >> 27
        mixed = mixed &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }

    /// Folds `value` into `hash` (FNV-style multiply, then a rotation so that order matters).
    private static func mix(_ hash: UInt64, _ value: UInt64) -> UInt64 {
        let folded = (hash ^ value) &* 0x100_0000_01b3
        return (folded << 29) | (folded >> 35)
    }

    public static func == (lhs: EvaluationContext, rhs: EvaluationContext) -> Bool {
        lhs.individualContexts == rhs.individualContexts
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(individualContexts)
    }

    /// A context from several kinds; one member makes a single-kind context.
    public init(multi contexts: [SingleKindContext]) throws(ContextError) {
        guard !contexts.isEmpty else { throw ContextError("a multi-kind context must have at least one kind") }
        let sorted = contexts.sorted { utf8Less($0.kind, $1.kind) }
        for i in sorted.indices.dropFirst() where sorted[i].kind == sorted[i - 1].kind {
            throw ContextError("a multi-kind context has kind \"\(sorted[i].kind)\" twice")
        }
        individualContexts = sorted
        unmanagedContexts = sorted.map { Unmanaged.passUnretained($0) }
        (fullyQualifiedKeyHash, kindsHash) = Self.hashes(of: sorted)
    }

    /// A user context with only a key.
    public static func user(_ key: String) -> EvaluationContext { EvaluationContext(SingleKindContext(key: key)) }

    /// True for a multi-kind context.
    public var isMulti: Bool { individualContexts.count > 1 }

    /// `multi`, or the kind of a single-kind context.
    public var kind: String { isMulti ? "multi" : individualContexts[0].kind }

    /// The context of `kind` (nil or empty means `user`), if present.
    public func individualContext(kind: String?) -> SingleKindContext? {
        let wanted: String
        if let kind, !kind.isEmpty { wanted = kind } else { wanted = "user" }
        for context in individualContexts where context.kind == wanted { return context }
        return nil
    }

    /// The fully-qualified key: the key for a user, `kind:key` for other kinds, and for a multi-kind
    /// context each member's `kind:key` joined by `:` in kind order, with `%` and `:` escaped. Used
    /// for secure-mode hashes and de-duplicating contexts in events.
    public var fullyQualifiedKey: String {
        if !isMulti, individualContexts[0].kind == "user" { return individualContexts[0].key }
        return individualContexts.map { "\($0.kind):\(Self.escapeKey($0.key))" }.joined(separator: ":")
    }

    private static func escapeKey(_ key: String) -> String {
        guard key.contains("%") || key.contains(":") else { return key }
        return key.replacingOccurrences("%", with: "%25").replacingOccurrences(":", with: "%3A")
    }
}

extension String {
    /// Plain substring replacement without Foundation.
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}

// MARK: - JSON

extension EvaluationContext {
    /// Parses a context exactly as LaunchDarkly's Go SDK does (`ldcontext/context_unmarshaling.go`):
    /// single-kind (`{"kind":"org","key":...}`), multi-kind (`{"kind":"multi","user":{...},...}`), or
    /// the pre-context user format (no `kind`: `{"key":...,"email":...,"custom":{...}}`).
    public init(json: JSONValue) throws(ContextError) {
        guard case .object(let properties) = json else {
            throw ContextError("a context must be a JSON object, found \(json.typeName)")
        }
        guard let kindValue = properties["kind"] else {
            self.init(try Self.parseOldUser(properties))
            return
        }
        guard case .string(let kind) = kindValue else { throw ContextError("\"kind\" must be a string") }
        guard !kind.isEmpty else { throw ContextError("context kind must not be empty") }
        if kind == "multi" {
            var members: [SingleKindContext] = []
            for (memberKind, value) in properties where memberKind != "kind" {
                guard case .object(let memberProperties) = value else {
                    throw ContextError("the \"\(memberKind)\" member of a multi-kind context must be an object")
                }
                members.append(try Self.parseSingle(memberProperties, kind: memberKind))
            }
            try self.init(multi: members)
        } else {
            self.init(try Self.parseSingle(properties, kind: kind))
        }
    }

    /// Checks a kind name: `[A-Za-z0-9._-]` only, and not `kind` or `multi`; empty means `user`.
    public static func validateKind(_ kind: String) throws(ContextError) -> String {
        if kind.isEmpty { return "user" }
        guard kind != "kind", kind != "multi" else { throw ContextError("\"\(kind)\" is not a valid context kind") }
        for byte in kind.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                throw ContextError("context kind \"\(kind)\" may contain only letters, digits, '.', '_' and '-'")
            }
        }
        return kind
    }

    /// One single-kind context. `kind` is the member name in a multi-kind context; a `kind` property
    /// inside the object overrides it, as in Go.
    private static func parseSingle(_ properties: [String: JSONValue], kind: String) throws(ContextError) -> SingleKindContext {
        var kind = kind
        if let inner = properties["kind"] {
            guard case .string(let s) = inner else { throw ContextError("\"kind\" must be a string") }
            kind = s
        }
        guard let keyValue = properties["key"] else { throw ContextError("context key is missing") }
        guard case .string(let key) = keyValue else { throw ContextError("context key must be a string") }
        guard !key.isEmpty else { throw ContextError("context key must not be empty") }
        var name: String?
        var anonymous = false
        var attributes: [String: JSONValue] = [:]
        var privateAttributes: [AttributeReference] = []
        for (property, value) in properties {
            switch property {
            case "kind", "key", "":
                continue
            case "name":
                switch value {
                case .null: continue
                case .string(let s): name = s
                default: throw ContextError("context \"name\" must be a string")
                }
            case "anonymous":
                guard case .bool(let b) = value else { throw ContextError("context \"anonymous\" must be a boolean") }
                anonymous = b
            case "_meta":
                guard case .object(let meta) = value else {
                    if value.isNull { continue }
                    throw ContextError("context \"_meta\" must be an object")
                }
                privateAttributes = try privateAttributeList(meta["privateAttributes"], literal: false)
            default:
                if !value.isNull { attributes[property] = value }
            }
        }
        return SingleKindContext(
            kind: try validateKind(kind), key: key, name: name, anonymous: anonymous, attributes: attributes,
            privateAttributes: privateAttributes)
    }

    private static let oldUserStringAttributes: Set<String> = ["ip", "country", "email", "firstName", "lastName", "avatar"]

    private static func parseOldUser(_ properties: [String: JSONValue]) throws(ContextError) -> SingleKindContext {
        guard let keyValue = properties["key"] else { throw ContextError("context key is missing") }
        guard case .string(let key) = keyValue else { throw ContextError("context key must be a string") }
        var name: String?
        var anonymous = false
        var secondary: String?
        var attributes: [String: JSONValue] = [:]
        var privateAttributes: [AttributeReference] = []
        for (property, value) in properties where !value.isNull {
            switch property {
            case "name":
                guard case .string(let s) = value else { throw ContextError("user \"name\" must be a string") }
                name = s
            case "anonymous":
                guard case .bool(let b) = value else { throw ContextError("user \"anonymous\" must be a boolean") }
                anonymous = b
            case "secondary":
                guard case .string(let s) = value else { throw ContextError("user \"secondary\" must be a string") }
                secondary = s
            case "privateAttributeNames":
                privateAttributes = try privateAttributeList(value, literal: true)
            case _ where oldUserStringAttributes.contains(property):
                guard case .string = value else { throw ContextError("user \"\(property)\" must be a string") }
                attributes[property] = value
            default:
                continue
            }
        }
        // Go applies properties in document order, so a `custom` entry can override (or, when null,
        // remove) a top-level one of the same name. Objects here are unordered; `custom` is taken to
        // come after the top-level properties, as every LaunchDarkly SDK writes it.
        if let custom = properties["custom"], !custom.isNull {
            guard case .object(let customAttributes) = custom else { throw ContextError("user \"custom\" must be an object") }
            for (property, value) in customAttributes {
                switch property {
                case "kind", "key", "name", "anonymous", "_meta", "": continue
                default: attributes[property] = value.isNull ? nil : value
                }
            }
        }
        return SingleKindContext(
            kind: "user", key: key, name: name, anonymous: anonymous, attributes: attributes,
            privateAttributes: privateAttributes, secondary: secondary)
    }

    private static func privateAttributeList(_ value: JSONValue?, literal: Bool) throws(ContextError) -> [AttributeReference] {
        guard let value, !value.isNull else { return [] }
        guard case .array(let elements) = value else { throw ContextError("private attributes must be an array of strings") }
        var references: [AttributeReference] = []
        for element in elements {
            guard case .string(let s) = element else { throw ContextError("private attributes must be an array of strings") }
            references.append(literal ? AttributeReference(literal: s) : AttributeReference(reference: s))
        }
        return references
    }

    /// Writes the context in LaunchDarkly's current JSON format (single- or multi-kind).
    public func write(to w: inout JSONWriter) {
        if isMulti {
            w.beginObject()
            w.key("kind"); w.writeString("multi")
            for context in individualContexts {
                w.key(context.kind)
                context.writeProperties(to: &w, includeKind: false)
            }
            w.endObject()
        } else {
            individualContexts[0].writeProperties(to: &w, includeKind: true)
        }
    }
}

extension SingleKindContext {
    func writeProperties(to w: inout JSONWriter, includeKind: Bool) {
        w.beginObject()
        if includeKind { w.key("kind"); w.writeString(kind) }
        w.key("key"); w.writeString(key)
        if let name { w.key("name"); w.writeString(name) }
        if anonymous { w.key("anonymous"); w.writeBool(true) }
        for attribute in attributes.keys.sorted(by: utf8Less) {
            w.key(attribute)
            w.writeValue(attributes[attribute]!)
        }
        if !privateAttributes.isEmpty {
            w.key("_meta"); w.beginObject()
            w.key("privateAttributes"); w.writeStrings(privateAttributes.map(\.rawValue))
            w.endObject()
        }
        w.endObject()
    }
}
