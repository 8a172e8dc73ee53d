// Shared by the libFuzzer targets (compiled into each with ModelsCore; see scripts/fuzz.sh).

import ModelsCore

/// Stops the run with a message libFuzzer records next to the crashing input.
func fuzzFailure(_ message: String) -> Never {
    fatalError("fuzz property violated: \(message)")
}

/// A small environment that uses every kind of targeting: individual targets, rules on attributes, a segment
/// with a weighted rule, a rollout, a prerequisite and a regular expression.
let fuzzEvaluationData: EvaluationData = {
    let text = #"""
    {"flags": {
      "kill": {"key": "kill", "on": true, "variations": [true, false], "fallthrough": {"variation": 0}, "offVariation": 1,
               "salt": "s", "version": 3},
      "rules": {"key": "rules", "on": true, "variations": ["a", "b", "c"], "offVariation": 2, "salt": "r", "version": 1,
                "targets": [{"values": ["alice"], "variation": 1}],
                "contextTargets": [{"contextKind": "org", "values": ["acme"], "variation": 2}],
                "rules": [{"id": "r0", "variation": 1, "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"]}]},
                          {"id": "r1", "variation": 2, "clauses": [{"attribute": "plan", "op": "matches", "values": ["^(gold|\\d+)$"]}]},
                          {"id": "r2", "clauses": [{"attribute": "", "op": "segmentMatch", "values": ["beta"]}],
                           "rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}},
                          {"id": "r3", "variation": 0, "clauses": [{"contextKind": "org", "attribute": "/address/city", "op": "in",
                                                                    "values": ["Paris"], "negate": true}]}],
                "fallthrough": {"rollout": {"kind": "experiment", "seed": 7, "variations": [{"variation": 0, "weight": 30000},
                                {"variation": 2, "weight": 70000}]}}},
      "gated": {"key": "gated", "on": true, "variations": [1, 2.5], "fallthrough": {"variation": 1}, "offVariation": 0,
                "salt": "g", "version": 2, "prerequisites": [{"key": "kill", "variation": 0}]},
      "dates": {"key": "dates", "on": true, "variations": [{"x": 1}, [1, 2]], "fallthrough": {"variation": 0}, "offVariation": 1,
                "salt": "d", "version": 1,
                "rules": [{"id": "d0", "variation": 1,
                           "clauses": [{"attribute": "created", "op": "before", "values": ["2026-01-01T00:00:00Z"]},
                                       {"attribute": "version", "op": "semVerLessThan", "values": ["2.0.0"]}]}]}},
     "segments": {
      "beta": {"key": "beta", "included": ["bob"], "excluded": ["carol"], "salt": "b", "version": 1,
               "includedContexts": [{"contextKind": "org", "values": ["acme"]}],
               "rules": [{"id": "s0", "weight": 40000, "bucketBy": "email",
                          "clauses": [{"attribute": "beta", "op": "in", "values": [true]}]}]}}}
    """#
    do {
        return EvaluationData(try PollingPayload(json: try JSONParser.parse(text)))
    } catch {
        fatalError("the fuzz environment does not decode: \(error)")
    }
}()

/// Contexts that reach most of `fuzzEvaluationData`'s branches.
let fuzzContexts: [EvaluationContext] = {
    let texts = [
        #"{"kind": "user", "key": "alice"}"#,
        #"{"key": "zed", "email": "zed@example.com", "plan": "gold", "beta": true, "version": "1.2.3", "created": "2025-06-01T00:00:00Z"}"#,
        #"{"kind": "multi", "user": {"key": "bob"}, "org": {"key": "acme", "address": {"city": "Lyon"}}}"#,
    ]
    return texts.map { text in
        do {
            return try EvaluationContext(json: try JSONParser.parse(text))
        } catch {
            fatalError("a fuzz context does not decode: \(error)")
        }
    }
}()

/// Evaluates every flag of `data` for `context`, checking what must hold for any input.
func fuzzEvaluateAll(_ data: EvaluationData, context: EvaluationContext) {
    for key in data.flags.keys.sorted(by: utf8Less) {
        guard let flag = data.flag(key) else { fuzzFailure("flag \(key) is listed but not found") }
        let detail = data.evaluate(flag, context: context)
        if let index = detail.variationIndex {
            guard index >= 0, index < flag.flag.variations.count else {
                fuzzFailure("flag \(key) served variation \(index) of \(flag.flag.variations.count)")
            }
            guard detail.value == flag.flag.variations[index] else { fuzzFailure("flag \(key): value is not variation \(index)") }
        }
    }
}
