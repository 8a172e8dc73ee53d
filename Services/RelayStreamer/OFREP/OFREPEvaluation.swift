import ModelsCore

/// LaunchDarkly evaluation results in OFREP's shapes.
///
/// Success: `{"key", "reason", "variant", "value", "metadata"}` where `variant` is the variation
/// index as a string, and `reason` is OFF → `DISABLED`, TARGET_MATCH → `TARGETING_MATCH`,
/// RULE_MATCH → `TARGETING_MATCH` (or `SPLIT` through a rollout), FALLTHROUGH → `STATIC` (or `SPLIT`
/// through a rollout), PREREQUISITE_FAILED → `UNKNOWN`. When no variation applies (an off flag
/// without an off variation), `value` is left out, meaning "use the code default", and `variant`
/// is empty; a variation whose value is JSON null also leaves `value` out (OFREP has no null type). `metadata` carries the exact
/// LaunchDarkly reason (`reasonKind`, `ruleIndex`, `ruleId`, `prerequisiteKey`, `inExperiment`, `errorKind`), `variationIndex`
/// and `flagVersion`.
///
/// Failure: `{"key", "errorCode", "errorDetails", "metadata"?}` — `FLAG_NOT_FOUND` (HTTP 404) or, for
/// a malformed flag, `GENERAL` (400).
enum OFREPEvaluation {
    /// One flag's outcome and the HTTP status a single-flag request answers with.
    struct Outcome {
        var status: Int
        var json: [UInt8]
    }

    /// Evaluates `key` for `context`.
    static func evaluate(key: String, in evaluation: EvaluationData, context: EvaluationContext) -> Outcome {
        var writer = JSONWriter(capacity: 256)
        guard let flag = evaluation.flag(key) else {
            writeFailure(key: key, code: "FLAG_NOT_FOUND", details: "flag \"\(key)\" does not exist", metadata: nil, to: &writer)
            return Outcome(status: 404, json: writer.bytes)
        }
        let status = write(flag, in: evaluation, context: context, to: &writer)
        return Outcome(status: status, json: writer.bytes)
    }

    /// Writes one flag's result object; returns the status a single-flag request would get.
    @discardableResult
    static func write(_ flag: CompiledFlag, in evaluation: EvaluationData, context: EvaluationContext, to writer: inout JSONWriter) -> Int {
        let detail = evaluation.evaluate(flag, context: context)
        if detail.reason.kind == .error {
            writeFailure(
                key: flag.key, code: "GENERAL",
                details: "the flag could not be evaluated (\(detail.reason.errorKind?.rawValue ?? "ERROR"))",
                metadata: (flag, detail), to: &writer)
            return 400
        }
        writer.beginObject()
        writer.key("key"); writer.writeString(flag.key)
        writer.key("reason"); writer.writeString(reason(detail.reason, flag: flag.flag))
        writer.key("variant"); writer.writeString(detail.variationIndex.map { String($0) } ?? "")
        // A null variation value has no OFREP type: like no variation at all, it means "use the
        // code default".
        if detail.variationIndex != nil, !detail.value.isNull {
            writer.key("value"); writer.writeValue(detail.value)
        }
        writer.key("metadata"); writeMetadata(flag, detail, to: &writer)
        writer.endObject()
        return 200
    }

    /// A failure object.
    static func writeFailure(
        key: String?, code: String, details: String, metadata: (CompiledFlag, EvaluationDetail)?, to writer: inout JSONWriter
    ) {
        writer.beginObject()
        if let key { writer.key("key"); writer.writeString(key) }
        writer.key("errorCode"); writer.writeString(code)
        writer.key("errorDetails"); writer.writeString(details)
        if let metadata {
            writer.key("metadata"); writeMetadata(metadata.0, metadata.1, to: &writer)
        }
        writer.endObject()
    }

    /// OFREP's reason for a LaunchDarkly reason.
    static func reason(_ reason: EvaluationReason, flag: FeatureFlag) -> String {
        switch reason.kind {
        case .off: return "DISABLED"
        case .targetMatch: return "TARGETING_MATCH"
        case .ruleMatch:
            if let index = reason.ruleIndex, flag.rules.indices.contains(index), flag.rules[index].variationOrRollout.rollout != nil {
                return "SPLIT"
            }
            return "TARGETING_MATCH"
        case .fallthrough:
            return flag.fallthrough?.rollout != nil ? "SPLIT" : "STATIC"
        case .prerequisiteFailed: return "UNKNOWN"
        case .error: return "ERROR"
        }
    }

    private static func writeMetadata(_ flag: CompiledFlag, _ detail: EvaluationDetail, to writer: inout JSONWriter) {
        let reason = detail.reason
        writer.beginObject()
        writer.key("flagVersion"); writer.writeInt(flag.flag.version)
        writer.key("reasonKind"); writer.writeString(reason.kind.rawValue)
        if let index = detail.variationIndex { writer.key("variationIndex"); writer.writeInt(index) }
        if let index = reason.ruleIndex, reason.kind == .ruleMatch { writer.key("ruleIndex"); writer.writeInt(index) }
        if let id = reason.ruleID, !id.isEmpty { writer.key("ruleId"); writer.writeString(id) }
        if let key = reason.prerequisiteKey { writer.key("prerequisiteKey"); writer.writeString(key) }
        if reason.inExperiment { writer.key("inExperiment"); writer.writeBool(true) }
        if let kind = reason.errorKind { writer.key("errorKind"); writer.writeString(kind.rawValue) }
        if let status = reason.bigSegmentsStatus { writer.key("bigSegmentsStatus"); writer.writeString(status.rawValue) }
        writer.endObject()
    }
}
