/// Reasons and details encode as LaunchDarkly's JSON (`{"kind":"RULE_MATCH","ruleIndex":0,...}`),
/// so that an application can put them in its own responses or logs (the Swift SDK's API).
extension EvaluationReason: Encodable {
    private enum CodingKeys: String, CodingKey {
        case kind, ruleIndex, ruleId, inExperiment, prerequisiteKey, errorKind, bigSegmentsStatus
    }

    /// The same properties as ``write(to:)`` (in the order the encoder chooses; ``write(to:)`` writes Go's).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .kind)
        if kind == .ruleMatch {
            try container.encode(ruleIndex ?? 0, forKey: .ruleIndex)
            if let ruleID, !ruleID.isEmpty { try container.encode(ruleID, forKey: .ruleId) }
        }
        if inExperiment { try container.encode(true, forKey: .inExperiment) }
        if let prerequisiteKey { try container.encode(prerequisiteKey, forKey: .prerequisiteKey) }
        if let errorKind { try container.encode(errorKind.rawValue, forKey: .errorKind) }
        if let bigSegmentsStatus { try container.encode(bigSegmentsStatus.rawValue, forKey: .bigSegmentsStatus) }
    }
}

extension EvaluationDetail: Encodable {
    private enum CodingKeys: String, CodingKey { case value, variationIndex, reason }

    /// `{"value":…,"variationIndex":…,"reason":{…}}`, as LaunchDarkly's SDKs serialize a detail.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
        try container.encode(variationIndex, forKey: .variationIndex)
        try container.encode(reason, forKey: .reason)
    }
}
