import ModelsCore

/// Which client asks, which decides the flags it may see (LaunchDarkly's `clientSideAvailability`).
enum ClientKind: String, Sendable {
    /// A browser SDK, by client-side id: flags available `usingEnvironmentId`.
    case javaScript = "client"
    /// A mobile SDK, by mobile key: flags available `usingMobileKey`.
    case mobile
    /// A server SDK using Relay's convenience endpoint, by SDK key: every flag.
    case server

    /// Whether this client may see `flag`.
    func mayEvaluate(_ flag: FeatureFlag) -> Bool {
        switch self {
        case .javaScript: flag.clientSideAvailability.usingEnvironmentID
        case .mobile: flag.clientSideAvailability.usingMobileKey
        case .server: true
        }
    }
}

/// Evaluates every flag a client may see for one context, in the JSON shape of LaunchDarkly's
/// client-side endpoints: flag key → `{value, variation, version, flagVersion, trackEvents?,
/// trackReason?, reason?, debugEventsUntilDate?, prerequisites?}`.
enum ClientSideEvaluation {
    /// The JSON object, keys in byte order.
    static func evaluateAll(
        _ evaluation: EvaluationData, context: EvaluationContext, client: ClientKind, withReasons: Bool
    ) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 * max(1, evaluation.flags.count))
        writer.beginObject()
        for key in evaluation.flags.keys.sorted(by: utf8Less) {
            let flag = evaluation.flags[key]!
            guard client.mayEvaluate(flag.flag) else { continue }
            writer.key(key)
            writeResult(of: flag, in: evaluation, context: context, withReasons: withReasons, to: &writer)
        }
        writer.endObject()
        return writer.bytes
    }

    /// One flag's result object.
    static func writeResult(
        of flag: CompiledFlag, in evaluation: EvaluationData, context: EvaluationContext, withReasons: Bool,
        to writer: inout JSONWriter
    ) {
        var prerequisites = DirectPrerequisites(dependent: flag)
        let detail = evaluation.evaluate(flag, context: context, observer: &prerequisites)
        let isExperiment = flag.isExperiment(detail.reason)
        writer.beginObject()
        writer.key("value"); writer.writeValue(detail.value)
        writer.key("variation")
        if let index = detail.variationIndex { writer.writeInt(index) } else { writer.writeNull() }
        writer.key("version"); writer.writeInt(flag.flag.version)
        writer.key("flagVersion"); writer.writeInt(flag.flag.version)
        if flag.flag.trackEvents || isExperiment { writer.key("trackEvents"); writer.writeBool(true) }
        if isExperiment { writer.key("trackReason"); writer.writeBool(true) }
        if withReasons || isExperiment {
            writer.key("reason")
            detail.reason.write(to: &writer)
        }
        if let until = flag.flag.debugEventsUntilDate, until != 0 {
            writer.key("debugEventsUntilDate"); writer.writeInt(until)
        }
        if !prerequisites.keys.isEmpty {
            writer.key("prerequisites"); writer.writeStrings(prerequisites.keys)
        }
        writer.endObject()
    }
}

/// Collects the keys of the prerequisites the evaluated flag itself referred to (not theirs), in
/// evaluation order: the `prerequisites` list of client-side results.
struct DirectPrerequisites: EvaluationObserver {
    let dependent: CompiledFlag
    var keys: [String] = []

    init(dependent: CompiledFlag) {
        self.dependent = dependent
    }

    mutating func prerequisiteEvaluated(_ prerequisite: CompiledFlag, detail: EvaluationDetail, dependent: CompiledFlag) {
        if dependent === self.dependent { keys.append(prerequisite.key) }
    }
}
