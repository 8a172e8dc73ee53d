import ModelsCore

/// Writes contexts into analytics events as LaunchDarkly's SDKs do (`event_context_formatter`):
/// `kind`, `key`, `name`, `anonymous` (only when true), the other attributes, and
/// `_meta.redactedAttributes` naming what was left out. Private attributes come from the
/// configuration (names or `/a/b` paths, or all of them) and from the context's own
/// `_meta.privateAttributes`; `key`, `kind` and `anonymous` are never redacted. In feature and
/// custom events an anonymous context has every other attribute redacted.
struct EventContextFormatter: Sendable {
    var allAttributesPrivate = false
    var privateAttributes: [AttributeReference] = []

    func write(_ context: EvaluationContext, redactAnonymous: Bool, to w: inout JSONWriter) {
        if context.isMulti {
            w.beginObject()
            w.key("kind"); w.writeString("multi")
            for single in context.individualContexts {
                w.key(single.kind)
                write(single, includeKind: false, redactAnonymous: redactAnonymous, to: &w)
            }
            w.endObject()
        } else {
            write(context.individualContexts[0], includeKind: true, redactAnonymous: redactAnonymous, to: &w)
        }
    }

    func jsonValue(_ context: EvaluationContext, redactAnonymous: Bool) -> JSONValue {
        var w = JSONWriter()
        write(context, redactAnonymous: redactAnonymous, to: &w)
        return (try? JSONParser.parse(w.bytes)) ?? .null
    }

    private func write(_ context: SingleKindContext, includeKind: Bool, redactAnonymous: Bool, to w: inout JSONWriter) {
        var redacted: [String] = []
        var name = context.name
        var attributes = context.attributes
        if allAttributesPrivate || (redactAnonymous && context.anonymous) {
            if name != nil { redacted.append("name") }
            redacted += attributes.keys.sorted(by: utf8Less)
            name = nil
            attributes = [:]
        } else {
            for reference in privateAttributes + context.privateAttributes where reference.isValid {
                let components = reference.components
                guard let first = components.first, !["key", "kind", "anonymous"].contains(first) else { continue }
                if components.count == 1 {
                    if first == "name" {
                        if name != nil {
                            name = nil
                            redacted.append(reference.rawValue)
                        }
                    } else if attributes.removeValue(forKey: first) != nil {
                        redacted.append(reference.rawValue)
                    }
                } else if let value = attributes[first], let reduced = Self.removing(Array(components.dropFirst()), from: value) {
                    attributes[first] = reduced
                    redacted.append(reference.rawValue)
                }
            }
        }
        w.beginObject()
        if includeKind { w.key("kind"); w.writeString(context.kind) }
        w.key("key"); w.writeString(context.key)
        if let name { w.key("name"); w.writeString(name) }
        if context.anonymous { w.key("anonymous"); w.writeBool(true) }
        for attribute in attributes.keys.sorted(by: utf8Less) {
            w.key(attribute)
            w.writeValue(attributes[attribute]!)
        }
        if !redacted.isEmpty {
            w.key("_meta"); w.beginObject()
            w.key("redactedAttributes"); w.writeStrings(redacted)
            w.endObject()
        }
        w.endObject()
    }

    /// `value` without the property at `path`, or nil if there is none.
    private static func removing(_ path: [String], from value: JSONValue) -> JSONValue? {
        guard case .object(var properties) = value, let first = path.first, let inner = properties[first] else { return nil }
        if path.count == 1 {
            properties[first] = nil
            return .object(properties)
        }
        guard let reduced = removing(Array(path.dropFirst()), from: inner) else { return nil }
        properties[first] = reduced
        return .object(properties)
    }
}
