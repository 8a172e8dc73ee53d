import ModelsCore

extension EvaluationContext {
    /// Parses a context from JSON text, in LaunchDarkly's format: single-kind
    /// (`{"kind":"user","key":"u1","email":"…"}`), multi-kind (`{"kind":"multi","user":{…},"org":{…}}`)
    /// or the old user format (no `kind`).
    ///
    /// - Throws: ``ContextError`` when the text is not JSON or not a valid context.
    public init(json text: String) throws(ContextError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw ContextError("a context must be JSON: \(error)")
        }
        try self.init(json: value)
    }

    /// A builder for a single-kind context: `try EvaluationContext.builder("u1").name("Ann").set("plan", "gold").build()`.
    public static func builder(_ key: String, kind: String = "user") -> ContextBuilder { ContextBuilder(key: key, kind: kind) }
}

/// Builds a single-kind ``EvaluationContext`` (for several kinds, build each and use
/// `EvaluationContext(multi:)`).
public struct ContextBuilder: Sendable {
    private var kind: String
    private var key: String
    private var name: String?
    private var anonymous = false
    private var attributes: [String: JSONValue] = [:]
    private var privateAttributes: [AttributeReference] = []

    /// A builder for the context `key` of `kind` (`user` by default).
    public init(key: String, kind: String = "user") {
        self.key = key
        self.kind = kind
    }

    /// Sets the context kind.
    public func kind(_ kind: String) -> ContextBuilder { with { $0.kind = kind } }
    /// Sets the display name (the built-in `name` attribute).
    public func name(_ name: String?) -> ContextBuilder { with { $0.name = name } }
    /// Marks the context anonymous (its attributes are not sent in feature and custom events).
    public func anonymous(_ anonymous: Bool) -> ContextBuilder { with { $0.anonymous = anonymous } }
    /// Sets a custom attribute; `.null` removes it. `kind`, `key`, `name` and `anonymous` go
    /// through their own methods.
    public func set(_ attribute: String, _ value: JSONValue) -> ContextBuilder {
        with {
            switch attribute {
            case "kind": if case .string(let s) = value { $0.kind = s }
            case "key": if case .string(let s) = value { $0.key = s }
            case "name": $0.name = value.stringValue
            case "anonymous": $0.anonymous = value.boolValue ?? false
            default: $0.attributes[attribute] = value.isNull ? nil : value
            }
        }
    }
    /// Marks attributes private: left out of analytics events (`/a/b` paths name nested properties).
    public func privateAttributes(_ references: String...) -> ContextBuilder {
        with { $0.privateAttributes += references.map { AttributeReference(reference: $0) } }
    }

    /// The context.
    ///
    /// - Throws: ``ContextError`` for an empty key or an invalid kind.
    public func build() throws(ContextError) -> EvaluationContext {
        guard !key.isEmpty else { throw ContextError("context key must not be empty") }
        let validKind = try EvaluationContext.validateKind(kind)
        return EvaluationContext(SingleKindContext(
            kind: validKind, key: key, name: name, anonymous: anonymous, attributes: attributes, privateAttributes: privateAttributes))
    }

    private func with(_ change: (inout ContextBuilder) -> Void) -> ContextBuilder {
        var copy = self
        change(&copy)
        return copy
    }
}
