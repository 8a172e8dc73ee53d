import Hummingbird
import ModelsCore
import ServiceKit

/// "Evaluate as a context": every live flag of one environment evaluated for one context on the server, with the
/// evaluator SDKs and the relay use (ModelsCore's `EvaluationData`), over the environment's data exactly as SDKs
/// receive it (`PollingPayload`, the same the outbox publishes and `GET …/data` answers). Nothing here decides a
/// variation itself: it only parses the context and writes each `EvaluationDetail`.
///
/// Answer: `{"context": <the context as evaluated>, "items": [{"key", "value", "variation", "reason", "flagVersion",
/// "prerequisites"?}]}`, items in key byte order; `value` is null and `variation` null when no variation applies (the
/// SDK's default value would be served).
enum ContextEvaluation {
    /// Body size limit is the API's usual one (`ManagementContext.bodyLimit`); a context also must not carry more
    /// than this many top-level attributes per kind, so a pasted blob cannot make one request evaluate a huge object.
    static let attributeLimit = 1_000

    /// The LaunchDarkly context of a request body, parsed as SDKs and the relay parse it: single-kind
    /// (`{"kind": "user", "key": …}`), multi-kind, or the pre-context user format (no `kind`); 422 naming the problem
    /// when it is not one.
    static func context(from body: JSONValue) throws(ValidationError) -> EvaluationContext {
        guard case .object(let properties) = body else {
            throw ValidationError("the body must be a context: a JSON object with \"kind\" and \"key\", found \(body.typeName)")
        }
        if properties.count > attributeLimit {
            throw ValidationError("a context may have at most \(attributeLimit) attributes")
        }
        do {
            return try EvaluationContext(json: body)
        } catch {
            throw ValidationError("not a valid context: \(error.message)")
        }
    }

    /// Evaluates every live flag of `payload` for `context`; the response body.
    static func evaluateAll(_ payload: PollingPayload, context: EvaluationContext) -> [UInt8] {
        evaluateAll(EvaluationData(payload), context: context)
    }

    /// Evaluates every flag of `evaluation` for `context`; the response body.
    static func evaluateAll(_ evaluation: EvaluationData, context: EvaluationContext) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 * max(1, evaluation.flags.count))
        writer.beginObject()
        writer.key("context"); context.write(to: &writer)
        writer.key("items")
        writer.beginArray()
        for key in evaluation.flags.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let flag = evaluation.flags[key]!
            var prerequisites = PrerequisiteKeys(dependent: flag)
            let detail = evaluation.evaluate(flag, context: context, observer: &prerequisites)
            writer.beginObject()
            writer.key("key"); writer.writeString(key)
            writer.key("value"); writer.writeValue(detail.value)
            writer.key("variation")
            if let index = detail.variationIndex { writer.writeInt(index) } else { writer.writeNull() }
            writer.key("reason"); detail.reason.write(to: &writer)
            writer.key("flagVersion"); writer.writeInt(flag.flag.version)
            if !prerequisites.keys.isEmpty { writer.key("prerequisites"); writer.writeStrings(prerequisites.keys) }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }
}

/// The keys of the prerequisites the evaluated flag itself referred to, in evaluation order (as the relay's
/// client-side results list them).
private struct PrerequisiteKeys: EvaluationObserver {
    let dependent: CompiledFlag
    var keys: [String] = []

    mutating func prerequisiteEvaluated(_ prerequisite: CompiledFlag, detail: EvaluationDetail, dependent: CompiledFlag) {
        if dependent === self.dependent { keys.append(prerequisite.key) }
    }
}

extension ManagementRoutes {
    /// `POST /api/v1/projects/{p}/environments/{e}/evaluate` (reader): body is a context; see `ContextEvaluation`.
    static func addEvaluation(_ api: RouterGroup<ManagementContext>, store: ManagementStore) {
        api.post("projects/:project/environments/:environment/evaluate") { request, context in
            _ = try context.require(.reader)
            let body = try await JSONBody.parse(request, limit: ManagementContext.bodyLimit)
            let evaluationContext = try ContextEvaluation.context(from: body)
            let payload = try await store.payload(
                projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"))
            return JSONBody.response(ContextEvaluation.evaluateAll(payload, context: evaluationContext))
        }
    }
}
