import ModelsCore
import Testing

/// The evaluation steps of LaunchDarkly's algorithm, one behaviour per test.
@Suite("Evaluator")
struct EvaluatorTests {
    private func flag(_ key: String, _ body: String) -> String {
        #"{"key":"\#(key)","on":true,"variations":["off","on","other"],"offVariation":0,"fallthrough":{"variation":1}"#
            + #"\#(body.isEmpty ? "" : ",")\#(body)}"#
    }

    @Test("an off flag serves its off variation, or no value when it has none")
    func off() {
        let data = evaluationData(flags: [
            #"{"key":"a","on":false,"variations":[1,2],"offVariation":1}"#,
            #"{"key":"b","on":false,"variations":[1,2]}"#,
        ])
        #expect(data.evaluate(flagKey: "a", context: .user("u")) == EvaluationDetail(value: 2, variationIndex: 1, reason: .off))
        #expect(data.evaluate(flagKey: "b", context: .user("u")) == EvaluationDetail(value: .null, variationIndex: nil, reason: .off))
    }

    @Test("an unknown flag is FLAG_NOT_FOUND; a deleted one too")
    func notFound() {
        let data = evaluationData(flags: [#"{"key":"gone","version":3,"deleted":true}"#])
        #expect(data.evaluate(flagKey: "nope", context: .user("u")).reason == .error(.flagNotFound))
        #expect(data.evaluate(flagKey: "gone", context: .user("u")).reason == .error(.flagNotFound))
    }

    @Test("variation indexes out of range are MALFORMED_FLAG wherever they appear", arguments: [
        #"{"key":"f","on":false,"variations":[1],"offVariation":5}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"variation":-1}}"#,
        #"{"key":"f","on":true,"variations":[1],"targets":[{"values":["u"],"variation":3}],"fallthrough":{"variation":0}}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"variation":0},"#
            + #""rules":[{"variation":2,"clauses":[{"attribute":"key","op":"in","values":["u"]}]}]}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"rollout":{"variations":[{"variation":4,"weight":100000}]}}}"#,
        #"{"key":"f","on":true,"variations":[1]}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"rollout":{"variations":[]}}}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"variation":0},"#
            + #""rules":[{"clauses":[{"attribute":"/a//b","contextKind":"user","op":"in","values":["u"]}],"variation":0}]}"#,
        #"{"key":"f","on":true,"variations":[1],"fallthrough":{"variation":0},"#
            + #""rules":[{"clauses":[{"attribute":"","op":"in","values":["u"]}],"variation":0}]}"#,
        #"{"key":"f","on":true,"variations":[1],"#
            + #""fallthrough":{"rollout":{"contextKind":"user","bucketBy":"/~x","variations":[{"variation":0,"weight":100000}]}}}"#,
    ])
    func malformed(_ text: String) {
        let detail = evaluationData(flags: [text]).evaluate(flagKey: "f", context: .user("u"))
        #expect(detail == .error(.malformedFlag))
    }

    @Test("a bad attribute reference is an error even in a rule that would not match otherwise")
    func badReferenceDoesNotFallThrough() {
        let data = evaluationData(flags: [flag("f", #"""
            "rules":[{"id":"r0","variation":2,"clauses":[{"contextKind":"user","attribute":"/a~2","op":"in","values":["x"]}]}]
            """#)])
        #expect(data.evaluate(flagKey: "f", context: .user("u")).reason == .error(.malformedFlag))
    }

    @Test("prerequisites: pass, fail, missing, off, and the failing direct key is reported")
    func prerequisites() {
        let data = evaluationData(flags: [
            flag("root", #""prerequisites":[{"key":"mid","variation":1}]"#),
            flag("mid", #""prerequisites":[{"key":"leaf","variation":2}]"#),
            flag("leaf", #""fallthrough":{"variation":2}"#),
            flag("needsMissing", #""prerequisites":[{"key":"absent","variation":1}]"#),
            flag("needsOff", #""prerequisites":[{"key":"offFlag","variation":0}]"#),
            #"{"key":"offFlag","on":false,"variations":["a"],"offVariation":0}"#,
            flag("needsWrong", #""prerequisites":[{"key":"leaf","variation":1}]"#),
            flag("nested", #""prerequisites":[{"key":"needsWrong","variation":1}]"#),
        ])
        #expect(data.evaluate(flagKey: "root", context: .user("u")).reason == .fallthrough())
        #expect(data.evaluate(flagKey: "needsMissing", context: .user("u")).reason == .prerequisiteFailed("absent"))
        #expect(data.evaluate(flagKey: "needsOff", context: .user("u")).reason == .prerequisiteFailed("offFlag"))
        let wrong = data.evaluate(flagKey: "needsWrong", context: .user("u"))
        #expect(wrong == EvaluationDetail(value: "off", variationIndex: 0, reason: .prerequisiteFailed("leaf")))
        #expect(data.evaluate(flagKey: "nested", context: .user("u")).reason == .prerequisiteFailed("needsWrong"))
    }

    @Test("prerequisite cycles are MALFORMED_FLAG at any depth; a diamond is not a cycle")
    func prerequisiteCycles() {
        let data = evaluationData(flags: [
            flag("self", #""prerequisites":[{"key":"self","variation":1}]"#),
            flag("a", #""prerequisites":[{"key":"b","variation":1}]"#),
            flag("b", #""prerequisites":[{"key":"c","variation":1}]"#),
            flag("c", #""prerequisites":[{"key":"a","variation":1}]"#),
            flag("top", #""prerequisites":[{"key":"a","variation":1}]"#),
            flag("diamond", #""prerequisites":[{"key":"left","variation":1},{"key":"right","variation":1}]"#),
            flag("left", #""prerequisites":[{"key":"bottom","variation":1}]"#),
            flag("right", #""prerequisites":[{"key":"bottom","variation":1}]"#),
            flag("bottom", ""),
            flag("firstThenSecond", #""prerequisites":[{"key":"bottom","variation":1},{"key":"left","variation":1}]"#),
        ])
        for key in ["self", "a", "top"] {
            #expect(data.evaluate(flagKey: key, context: .user("u")) == .error(.malformedFlag), "\(key)")
        }
        #expect(data.evaluate(flagKey: "diamond", context: .user("u")).reason == .fallthrough())
        #expect(data.evaluate(flagKey: "firstThenSecond", context: .user("u")).reason == .fallthrough())
    }

    @Test("a prerequisite that is itself malformed fails the prerequisite; a clause error aborts everything")
    func errorsInPrerequisites() {
        let data = evaluationData(flags: [
            flag("dependsOnBadIndex", #""prerequisites":[{"key":"badIndex","variation":1}]"#),
            #"{"key":"badIndex","on":true,"variations":["x"],"fallthrough":{"variation":9}}"#,
            flag("dependsOnBadClause", #""prerequisites":[{"key":"badClause","variation":1}]"#),
            flag("badClause", #""rules":[{"variation":1,"clauses":[{"attribute":"","op":"in","values":["u"]}]}]"#),
        ])
        #expect(data.evaluate(flagKey: "dependsOnBadIndex", context: .user("u")).reason == .prerequisiteFailed("badIndex"))
        #expect(data.evaluate(flagKey: "dependsOnBadClause", context: .user("u")) == .error(.malformedFlag))
    }

    @Test("prerequisite evaluations are reported to the observer, in order, even when failing")
    func observer() throws {
        struct Recorder: EvaluationObserver {
            var events: [String] = []
            mutating func prerequisiteEvaluated(_ prerequisite: CompiledFlag, detail: EvaluationDetail, dependent: CompiledFlag) {
                events.append("\(prerequisite.key)<-\(dependent.key):\(detail.variationIndex.map(String.init) ?? "nil")")
            }
        }
        let data = evaluationData(flags: [
            flag("root", #""prerequisites":[{"key":"p1","variation":1},{"key":"p2","variation":1},{"key":"p3","variation":1}]"#),
            flag("p1", #""prerequisites":[{"key":"p0","variation":1}]"#),
            flag("p0", ""),
            flag("p2", #""fallthrough":{"variation":2}"#),
            flag("p3", ""),
        ])
        var recorder = Recorder()
        let detail = data.evaluate(try #require(data.flag("root")), context: .user("u"), observer: &recorder)
        #expect(detail.reason == .prerequisiteFailed("p2"))
        #expect(recorder.events == ["p0<-p1:1", "p1<-root:1", "p2<-root:2"])
    }

    @Test("targets: user targets, other kinds, and the contextTargets order")
    func targets() {
        let data = evaluationData(flags: [
            flag("legacy", #""targets":[{"values":["a","b"],"variation":2}]"#),
            flag("ordered", #"""
                "targets":[{"values":["u1"],"variation":0}],
                "contextTargets":[{"contextKind":"other","values":["o1"],"variation":2},{"contextKind":"user","values":[],"variation":0}]
                """#),
            flag("offTargets", #""targets":[{"values":["a"],"variation":2}]"#).replacingOccurrences(of: #""on":true"#,
                with: #""on":false"#),
        ])
        #expect(data.evaluate(flagKey: "legacy", context: .user("b")) == EvaluationDetail(value: "other",
            variationIndex: 2, reason: .targetMatch))
        #expect(data.evaluate(flagKey: "legacy", context: .user("c")).reason == .fallthrough())
        #expect(data.evaluate(flagKey: "legacy", context: context(#"{"kind":"org","key":"a"}"#)).reason == .fallthrough())
        let both = context(#"{"kind":"multi","user":{"key":"u1"},"other":{"key":"o1"}}"#)
        #expect(data.evaluate(flagKey: "ordered", context: both).variationIndex == 2)
        #expect(data.evaluate(flagKey: "ordered", context: .user("u1")).variationIndex == 0)
        #expect(data.evaluate(flagKey: "offTargets", context: .user("a")).reason == .off)
    }

    @Test("targets entries apply to their own context kind, also when a contextTargets placeholder points at them")
    func targetsWithKinds() {
        let data = evaluationData(flags: [
            flag("legacyOrg", #""targets":[{"contextKind":"org","values":["o"],"variation":2}]"#),
            flag("viaPlaceholder",
                #""targets":[{"contextKind":"org","values":["o"],"variation":2}],"contextTargets":[{"values":[],"variation":2}]"#),
        ])
        #expect(data.evaluate(flagKey: "legacyOrg", context: context(#"{"kind":"org","key":"o"}"#)).variationIndex == 2)
        #expect(data.evaluate(flagKey: "legacyOrg", context: .user("o")).variationIndex == 1)
        #expect(data.evaluate(flagKey: "viaPlaceholder", context: context(#"{"kind":"org","key":"o"}"#)).variationIndex == 2)
    }

    @Test("a user-kind contextTargets entry with values matches directly (LaunchDarkly's Go rule)")
    func userContextTargetWithValues() {
        let data = evaluationData(flags: [flag("f", #"""
            "targets":[{"values":["legacy"],"variation":0}],
            "contextTargets":[{"contextKind":"user","values":["direct"],"variation":2}]
            """#)])
        #expect(data.evaluate(flagKey: "f", context: .user("direct")).variationIndex == 2)
        #expect(data.evaluate(flagKey: "f", context: .user("legacy")).reason == .fallthrough())
    }

    @Test("rules match in order, all clauses must match, and report their index and id")
    func rules() {
        let data = evaluationData(flags: [flag("f", #"""
            "rules":[
              {"id":"both","variation":2,"clauses":[{"attribute":"a","op":"in","values":[1]},{"attribute":"b","op":"in","values":[1]}]},
              {"variation":0,"clauses":[{"attribute":"a","op":"in","values":[1]}]},
              {"id":"later","variation":2,"clauses":[{"attribute":"a","op":"in","values":[1]}]}]
            """#)])
        let both = data.evaluate(flagKey: "f", context: context(#"{"kind":"user","key":"k","a":1,"b":1}"#))
        #expect(both.reason == .ruleMatch(index: 0, id: "both"))
        let first = data.evaluate(flagKey: "f", context: context(#"{"kind":"user","key":"k","a":1}"#))
        #expect(first.variationIndex == 0)
        #expect(first.reason.jsonValue == json(#"{"kind":"RULE_MATCH","ruleIndex":1}"#), "no ruleId when the rule has none")
    }

    @Test("clauses select the context kind; a missing kind or attribute never matches, even negated")
    func clauseKinds() {
        let data = evaluationData(flags: [flag("f", #"""
            "rules":[{"id":"r","variation":2,"clauses":[{"contextKind":"org","attribute":"tier","op":"in","values":["x"],"negate":true}]}]
            """#)])
        #expect(data.evaluate(flagKey: "f", context: .user("u")).reason == .fallthrough())
        #expect(data.evaluate(flagKey: "f", context: context(#"{"kind":"org","key":"o"}"#)).reason == .fallthrough())
        #expect(data.evaluate(flagKey: "f", context: context(#"{"kind":"org","key":"o","tier":"y"}"#)).variationIndex == 2)
        #expect(data.evaluate(flagKey: "f",
            context: context(#"{"kind":"multi","user":{"key":"u"},"org":{"key":"o","tier":"y"}}"#)).variationIndex == 2)
    }

    @Test("the kind attribute matches any individual kind and ignores the clause's context kind")
    func kindAttribute() {
        let data = evaluationData(flags: [flag("f", #"""
            "rules":[{"id":"r","variation":2,"clauses":[{"contextKind":"user","attribute":"kind","op":"matches","values":["^[uo]"]}]}]
            """#)])
        #expect(data.evaluate(flagKey: "f", context: context(#"{"kind":"org","key":"o"}"#)).variationIndex == 2)
        #expect(data.evaluate(flagKey: "f", context: context(#"{"kind":"device","key":"d"}"#)).variationIndex == 1)
        #expect(data.evaluate(flagKey: "f",
            context: context(#"{"kind":"multi","device":{"key":"d"},"user":{"key":"u"}}"#)).variationIndex == 2)
    }

    @Test("clause attributes are literal without a context kind and paths with one")
    func attributePaths() {
        let data = evaluationData(flags: [
            flag("literal", #""rules":[{"id":"r","variation":2,"clauses":[{"attribute":"/a/b","op":"in","values":[1]}]}]"#),
            flag("path",
                 #""rules":[{"id":"r","variation":2,"clauses":[{"contextKind":"user","attribute":"/a/b","op":"in","values":[1]}]}]"#),
        ])
        let nested = context(#"{"kind":"user","key":"k","a":{"b":1}}"#)
        let literal = context(#"{"kind":"user","key":"k","/a/b":1}"#)
        #expect(data.evaluate(flagKey: "literal", context: nested).variationIndex == 1)
        #expect(data.evaluate(flagKey: "literal", context: literal).variationIndex == 2)
        #expect(data.evaluate(flagKey: "path", context: nested).variationIndex == 2)
        #expect(data.evaluate(flagKey: "path", context: literal).variationIndex == 1)
    }

    private let segmentFlag = #"{"key":"f","on":true,"variations":[false,true],"fallthrough":{"variation":0},"#
        + #""rules":[{"id":"r","variation":1,"clauses":[{"attribute":"","op":"segmentMatch","values":["s"]}]}]}"#

    private func inSegment(_ segment: String, _ contextText: String, extraSegments: [String] = []) -> EvaluationDetail {
        evaluationData(flags: [segmentFlag], segments: [segment] + extraSegments).evaluate(flagKey: "f", context: context(contextText))
    }

    @Test("segments: included before excluded, per-kind lists, user lists only for users")
    func segmentTargets() {
        let s = #"{"key":"s","included":["in","both"],"excluded":["out","both"],"#
            + #""includedContexts":[{"contextKind":"org","values":["o-in","o-both"]}],"#
            + #""excludedContexts":[{"contextKind":"org","values":["o-both","o-out"]}],"#
            + #""rules":[{"clauses":[{"attribute":"key","op":"startsWith","values":["o-"],"contextKind":"org"}]}]}"#
        #expect(inSegment(s, #"{"kind":"user","key":"in"}"#).variationIndex == 1)
        #expect(inSegment(s, #"{"kind":"user","key":"both"}"#).variationIndex == 1)
        #expect(inSegment(s, #"{"kind":"user","key":"out"}"#).variationIndex == 0)
        #expect(inSegment(s, #"{"kind":"org","key":"in"}"#).variationIndex == 0, "included is for users only")
        #expect(inSegment(s, #"{"kind":"org","key":"o-in"}"#).variationIndex == 1)
        #expect(inSegment(s, #"{"kind":"org","key":"o-both"}"#).variationIndex == 1)
        #expect(inSegment(s, #"{"kind":"org","key":"o-out"}"#).variationIndex == 0, "excluded before rules")
        #expect(inSegment(s, #"{"kind":"org","key":"o-rule"}"#).variationIndex == 1)
    }

    @Test("segments: per-kind lists with kind user are skipped for a single user context (Go)")
    func segmentUserKindLists() {
        let s = #"{"key":"s","includedContexts":[{"contextKind":"user","values":["u"]}]}"#
        #expect(inSegment(s, #"{"kind":"user","key":"u"}"#).variationIndex == 0)
        #expect(inSegment(s, #"{"kind":"multi","user":{"key":"u"},"org":{"key":"o"}}"#).variationIndex == 1)
    }

    @Test("weighted segment rules bucket by segment key and salt; a missing rollout kind never matches")
    func weightedSegmentRules() {
        let s = #"{"key":"segment3","salt":"salty","#
            + #""rules":[{"clauses":[{"attribute":"key","op":"in","values":["user-key","unmatching-key"]}],"weight":14955}]}"#
        let flag = segmentFlag.replacingOccurrences(of: #"["s"]"#, with: #"["segment3"]"#)
        let data = evaluationData(flags: [flag], segments: [s])
        #expect(data.evaluate(flagKey: "f", context: .user("user-key")).variationIndex == 1)
        #expect(data.evaluate(flagKey: "f", context: .user("unmatching-key")).variationIndex == 0)
        let orgOnly = #"{"key":"segment3","salt":"salty","rules":[{"clauses":[],"weight":100000,"rolloutContextKind":"org"}]}"#
        #expect(evaluationData(flags: [flag], segments: [orgOnly]).evaluate(flagKey: "f", context: .user("u")).variationIndex == 0)
        let missingAttribute = #"{"key":"segment3","salt":"salty","rules":[{"clauses":[],"weight":1,"bucketBy":"nope"}]}"#
        #expect(evaluationData(flags: [flag], segments: [missingAttribute]).evaluate(flagKey: "f", context: .user("u")).variationIndex == 1,
                "an unusable bucketBy attribute buckets at 0, which is inside any positive weight")
    }

    @Test("nested segments match; segment cycles are MALFORMED_FLAG")
    func segmentRecursion() {
        let outer = #"{"key":"s","rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["inner"]}]}]}"#
        let inner = #"{"key":"inner","included":["u"]}"#
        #expect(inSegment(outer, #"{"kind":"user","key":"u"}"#, extraSegments: [inner]).variationIndex == 1)
        #expect(inSegment(outer, #"{"kind":"user","key":"v"}"#, extraSegments: [inner]).variationIndex == 0)
        let cyclic = #"{"key":"inner","rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["s"]}]}]}"#
        #expect(inSegment(outer, #"{"kind":"user","key":"u"}"#, extraSegments: [cyclic]) == .error(.malformedFlag))
    }

    @Test("big segments have no store here: rules only, and the reason says NOT_CONFIGURED")
    func bigSegments() {
        let big = #"{"key":"s","unbounded":true,"generation":2,"included":["u"],"#
            + #""rules":[{"clauses":[{"attribute":"key","op":"in","values":["r"]}]}]}"#
        let u = inSegment(big, #"{"kind":"user","key":"u"}"#)
        #expect(u.variationIndex == 0)
        #expect(u.reason.jsonValue == json(#"{"kind":"FALLTHROUGH","bigSegmentsStatus":"NOT_CONFIGURED"}"#))
        #expect(inSegment(big, #"{"kind":"user","key":"r"}"#).variationIndex == 1)
    }

    @Test("experiment detection for analytics")
    func isExperiment() throws {
        let data = evaluationData(flags: [#"{"key":"f","on":true,"variations":[1],"trackEventsFallthrough":true,"#
            + #""fallthrough":{"variation":0},"rules":[{"variation":0,"trackEvents":true,"clauses":[]},{"variation":0,"clauses":[]}]}"#])
        let f = try #require(data.flag("f"))
        #expect(f.isExperiment(.fallthrough()))
        #expect(f.isExperiment(.ruleMatch(index: 0, id: nil)))
        #expect(!f.isExperiment(.ruleMatch(index: 1, id: nil)))
        #expect(!f.isExperiment(.off))
    }
}
