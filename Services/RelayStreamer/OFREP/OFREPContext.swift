import ModelsCore

/// Why an OFREP evaluation context cannot be used: OFREP's error code and a message.
struct OFREPContextError: Error, Sendable {
    /// `PARSE_ERROR`, `TARGETING_KEY_MISSING` or `INVALID_CONTEXT`.
    var code: String
    var details: String

    /// `TARGETING_KEY_MISSING`.
    static func missingKey(_ details: String) -> OFREPContextError { .init(code: "TARGETING_KEY_MISSING", details: details) }
    /// `PARSE_ERROR`: the body is not a JSON object.
    static func parse(_ details: String) -> OFREPContextError { .init(code: "PARSE_ERROR", details: details) }
    /// `INVALID_CONTEXT`.
    static func invalid(_ details: String) -> OFREPContextError { .init(code: "INVALID_CONTEXT", details: details) }
}

/// OpenFeature evaluation contexts as LaunchDarkly contexts, the way LaunchDarkly's own OpenFeature
/// providers convert them:
///
/// * `kind` chooses the context kind (default `user`); `"multi"` makes every other object-valued
///   property one member, named by its kind;
/// * the key is `targetingKey`, else `key`; missing or empty → `TARGETING_KEY_MISSING`;
/// * `name` (string), `anonymous` (boolean) and `privateAttributes` (array of strings) are the
///   built-ins (values of another type are ignored, as the providers do);
/// * every other property is a custom attribute;
/// * an invalid kind or shape → `INVALID_CONTEXT`.
enum OFREPContext {
    /// The LaunchDarkly context of an OFREP request's `context` (nil or absent means `{}`).
    static func evaluationContext(_ json: JSONValue?) throws(OFREPContextError) -> EvaluationContext {
        let properties: [String: JSONValue]
        switch json {
        case nil, .null?: properties = [:]
        case .object(let object)?: properties = object
        case let other?: throw .invalid("the context must be a JSON object, found \(other.typeName)")
        }
        let kind: String
        switch properties["kind"] {
        case nil, .null?: kind = "user"
        case .string(let text)?: kind = text
        case let other?: throw .invalid("\"kind\" must be a string, found \(other.typeName)")
        }
        let ldJSON: JSONValue
        if kind == "multi" {
            var members: [String: JSONValue] = ["kind": "multi"]
            for (memberKind, value) in properties where memberKind != "kind" && memberKind != "targetingKey" {
                guard case .object(let memberProperties) = value else { continue }
                members[memberKind] = try single(memberProperties, kind: nil)
            }
            guard members.count > 1 else { throw .invalid("a multi-kind context needs at least one kind object") }
            ldJSON = .object(members)
        } else {
            ldJSON = try single(properties, kind: kind)
        }
        do {
            return try EvaluationContext(json: ldJSON)
        } catch {
            throw .invalid(error.message)
        }
    }

    /// One context in LaunchDarkly's JSON form; `kind` nil for a member of a multi-kind context.
    private static func single(_ properties: [String: JSONValue], kind: String?) throws(OFREPContextError) -> JSONValue {
        var key: String?
        switch properties["targetingKey"] {
        case nil, .null?: break
        case .string(let text)?: if !text.isEmpty { key = text }
        case let other?: throw .invalid("\"targetingKey\" must be a string, found \(other.typeName)")
        }
        if key == nil, case .string(let text)? = properties["key"], !text.isEmpty { key = text }
        guard let key else { throw .missingKey("the context has no targetingKey") }
        var object: [String: JSONValue] = ["key": .string(key)]
        if let kind { object["kind"] = .string(kind) }
        for (name, value) in properties where !value.isNull {
            switch name {
            case "targetingKey", "key", "kind", "_meta":
                continue
            case "name":
                if case .string = value { object["name"] = value }
            case "anonymous":
                if case .bool = value { object["anonymous"] = value }
            case "privateAttributes":
                if case .array(let names) = value {
                    object["_meta"] = ["privateAttributes": .array(names.filter { $0.stringValue != nil })]
                }
            default:
                object[name] = value
            }
        }
        return .object(object)
    }
}
