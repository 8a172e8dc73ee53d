// libFuzzer target `ofrep-request`: an OFREP request body (`{"context": {...}}`) parsed as the relay does
// (OFREPRoutes.contextMember: JSONParser, then the `context` member), converted by OFREPContext, then
// evaluated with OFREPEvaluation; every answer must be JSON.

import ModelsCore

func fuzzOFREPRequest(_ bytes: [UInt8]) {
    let member: JSONValue?
    if bytes.isEmpty {
        member = nil
    } else {
        guard let body = try? JSONParser.parse(bytes), case .object(let properties) = body else { return }
        member = properties["context"]
    }
    let context: EvaluationContext
    do {
        context = try OFREPContext.evaluationContext(member)
    } catch {
        guard ["TARGETING_KEY_MISSING", "INVALID_CONTEXT", "PARSE_ERROR"].contains(error.code) else {
            fuzzFailure("unknown OFREP error code \(error.code)")
        }
        return
    }
    for key in ["kill", "rules", "gated", "dates", "missing"] {
        let outcome = OFREPEvaluation.evaluate(key: key, in: fuzzEvaluationData, context: context)
        guard (try? JSONParser.parse(outcome.json)) != nil else { fuzzFailure("the answer for \(key) is not JSON") }
        guard [200, 400, 404].contains(outcome.status) else { fuzzFailure("status \(outcome.status) for \(key)") }
    }
    fuzzEvaluateAll(fuzzEvaluationData, context: context)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOFREPRequest(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
