// libFuzzer target `flag-evaluation`: bytes → JSON → a flag, a segment or a whole payload (as the relay decodes
// them from `vane.config`) → evaluation of every flag for fixed contexts. Nothing may crash or hang, and every
// served variation must exist, and a written flag must read back to the same JSON.

import ModelsCore

func fuzzFlagEvaluation(_ bytes: [UInt8]) {
    guard let json = try? JSONParser.parse(bytes) else { return }
    var data = fuzzEvaluationData
    if let payload = try? PollingPayload(json: json) {
        data = EvaluationData(payload)
    } else if let flag = try? FeatureFlag(json: json) {
        data = data.updating(CompiledFlag(flag))
    } else if let segment = try? Segment(json: json) {
        data = data.updating(CompiledSegment(segment))
    } else {
        return
    }
    for context in fuzzContexts { fuzzEvaluateAll(data, context: context) }
    // What the relay publishes is stable: a written flag reads back to a flag that writes the same bytes. (Not
    // `==`: a missing `fallthrough` is written as `{}`, as LaunchDarkly does, and reads back as an empty one; both
    // evaluate as MALFORMED_FLAG. Found by this target: Tests/Fuzz/regressions/flag-evaluation/missing-fallthrough.)
    for flag in data.flags.values {
        let written = flag.flag.jsonBytes
        guard let again = try? FeatureFlag(json: try JSONParser.parse(written)), again.jsonBytes == written else {
            fuzzFailure("flag \(flag.key) does not survive writing and reading")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzFlagEvaluation(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
