import ExperimentStats
import Foundation
import ModelsCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// The pure parts of releases: request parsing, the weights of each step, monotone bucketing, the state machine and
/// the guard's decision (docs/releases.md).
@Suite("releases: pure logic")
struct ReleaseLogicTests {
    private static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    private static func paths(_ body: () throws -> Void) -> [String] {
        do {
            try body()
            return []
        } catch let error as ValidationError {
            return error.problems.compactMap(\.path)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test("a rollout body: variation, increasing steps ending at 100, holds and the guard's defaults")
    func draft() throws {
        let draft = try RolloutDraft(json: try Self.parse(#"""
            {"variation": 1, "steps": [{"percent": 10, "holdSeconds": 4}, {"percent": 50.5, "holdSeconds": 4},
             {"percent": 100, "holdSeconds": 0}], "guard": {"metric": "errors", "type": "proportion", "higherIsBetter": false}}
            """#))
        #expect(draft.variation == 1)
        #expect(draft.steps.map(\.percent) == [10, 50.5, 100])
        #expect(draft.guard == RolloutGuard(metric: "errors", type: .proportion, higherIsBetter: false, alpha: 0.05, minContexts: 100))

        #expect(Self.paths { _ = try RolloutDraft(json: try Self.parse(#"{"steps": []}"#)) } == ["variation", "steps"])
        #expect(Self.paths {
            _ = try RolloutDraft(json: try Self.parse(#"""
                {"variation": 1, "steps": [{"percent": 50, "holdSeconds": 1}, {"percent": 20, "holdSeconds": -1},
                 {"percent": 90.0001, "holdSeconds": 1}]}
                """#))
        } == ["steps[1].percent", "steps[1].holdSeconds", "steps[2].percent", "steps[2].percent"])
        #expect(Self.paths {
            _ = try RolloutDraft(json: try Self.parse(#"""
                {"variation": -1, "steps": [{"percent": 100, "holdSeconds": 1}],
                 "guard": {"metric": "", "type": "median", "alpha": 0.9, "minContexts": 0}}
                """#))
        } == ["variation", "guard.metric", "guard.type", "guard.higherIsBetter", "guard.alpha", "guard.minContexts"])
    }

    @Test("a scheduled change body: executeAt within bounds, a non-empty patch object, a short comment")
    func scheduledDraft() throws {
        let now = 1_800_000_000_000
        let draft = try ScheduledChangeDraft(
            json: try Self.parse(#"{"executeAt": "2027-01-15T09:00:00Z", "patch": {"on": true}, "comment": "go"}"#), nowMilliseconds: now)
        #expect(draft.executeAtMilliseconds == rfc3339UnixMilliseconds("2027-01-15T09:00:00Z"))
        #expect(draft.patch == ["on": true])
        #expect(Self.paths {
            _ = try ScheduledChangeDraft(json: try Self.parse(#"{"executeAt": "monday", "patch": {}, "comment": 3}"#), nowMilliseconds: now)
        } == ["executeAt", "patch", "comment"])
        #expect(Self.paths {
            _ = try ScheduledChangeDraft(
                json: try Self.parse(#"{"executeAt": "2020-01-01T00:00:00Z", "patch": [1]}"#), nowMilliseconds: now)
        } == ["executeAt", "patch"])
        #expect(Self.paths {
            _ = try ScheduledChangeDraft(
                json: try Self.parse(#"{"executeAt": "2099-01-01T00:00:00Z", "patch": {"on": 1}}"#), nowMilliseconds: now)
        } == ["executeAt"])
    }

    @Test("each step's fallthrough: [control, new] weights out of 100000, the new variation alone at 100 %")
    func weights() {
        #expect(RolloutPlan.weight(percent: 12.345) == 12_345)
        let ten = RolloutPlan.choice(control: 0, variation: 2, percent: 10, seed: 7)
        #expect(ten.variation == nil)
        #expect(ten.rollout?.seed == 7)
        #expect(ten.rollout?.variations == [WeightedVariation(variation: 0, weight: 90_000), WeightedVariation(variation: 2,
            weight: 10_000)])
        #expect(RolloutPlan.choice(control: 0, variation: 2, percent: 100, seed: 7) == VariationOrRollout(variation: 2))
        #expect(RolloutPlan.patch(ten) == [
            "fallthrough": ["rollout": ["seed": 7, "variations": [["variation": 0, "weight": 90_000], ["variation": 2, "weight": 10_000]]]],
        ])
        #expect(RolloutPlan.patch(VariationOrRollout(variation: 1)) == ["fallthrough": ["variation": 1]])
        // A guarded rollout's steps are experiment rollouts (the SDKs then send a feature event per fallthrough evaluation).
        let guarded = RolloutPlan.patch(RolloutPlan.choice(control: 0, variation: 2, percent: 10, seed: 7, experiment: true))
        #expect(guarded["fallthrough"]?["rollout"]?["kind"] == "experiment")
    }

    /// Evaluates the flag with each step's fallthrough for many contexts with LaunchDarkly's bucketing.
    private static func served(percents: [Double], contexts: [EvaluationContext], seed: Int, experiment: Bool) -> [[Int?]] {
        percents.map { percent in
            let flag = FeatureFlag(
                key: "checkout", version: 1, on: true, variations: ["old", "new"], offVariation: 0,
                fallthrough: RolloutPlan.choice(control: 0, variation: 1, percent: percent, seed: seed, experiment: experiment),
                salt: "salt")
            let data = EvaluationData(PollingPayload(flags: ["checkout": flag]))
            return contexts.map { data.evaluate(flagKey: "checkout", context: $0).variationIndex }
        }
    }

    @Test("the ramp is monotone: 20,000 contexts, every step, a context that got the new variation keeps it (plain and guarded)",
          arguments: [false, true])
    func monotone(experiment: Bool) throws {
        let percents: [Double] = [1, 5, 10, 25, 33.333, 50, 75, 99, 100]
        var contexts = (0..<20_000).map { EvaluationContext.user("user-\($0)") }
        // Other kinds: an organization-only context has no `user` key to bucket by and stays on the control until 100 %.
        contexts.append(try EvaluationContext(json: ["kind": "organization", "key": "org-1"]))
        contexts.append(try EvaluationContext(json: ["kind": "multi", "user": ["key": "m-1"], "org": ["key": "o-1"]]))
        let served = Self.served(percents: percents, contexts: contexts, seed: 4242, experiment: experiment)
        for (step, row) in served.enumerated() {
            let share = Double(row.filter { $0 == 1 }.count) / Double(contexts.count)
            #expect(abs(share - percents[step] / 100) < 0.015, "step \(step): \(share) served the new variation")
            guard step > 0 else { continue }
            let lost = zip(served[step - 1], row).filter { $0.0 == 1 && $0.1 != 1 }.count
            #expect(lost == 0, "\(lost) contexts went back to the control at step \(step)")
        }
        #expect(served[percents.count - 2][20_000] == 0)  // no user key: control at 99 %
        #expect(served.last?.allSatisfy { $0 == 1 } == true)
    }

    @Test("the opposite order of weighted variations at each step would not be monotone (why the order is fixed)")
    func orderMatters() {
        let contexts = (0..<5_000).map { EvaluationContext.user("user-\($0)") }
        func serve(_ percent: Double, newFirst: Bool) -> [Int?] {
            let weight = RolloutPlan.weight(percent: percent)
            let variations = newFirst
                ? [WeightedVariation(variation: 1, weight: weight), WeightedVariation(variation: 0, weight: 100_000 - weight)]
                : [WeightedVariation(variation: 0, weight: 100_000 - weight), WeightedVariation(variation: 1, weight: weight)]
            let flag = FeatureFlag(
                key: "checkout", version: 1, on: true, variations: ["old", "new"], offVariation: 0,
                fallthrough: VariationOrRollout(rollout: Rollout(seed: 1, variations: variations)), salt: "salt")
            let data = EvaluationData(PollingPayload(flags: ["checkout": flag]))
            return contexts.map { data.evaluate(flagKey: "checkout", context: $0).variationIndex }
        }
        // Switching the order between steps (e.g. "larger weight first") moves contexts back to the control.
        let before = serve(30, newFirst: false)
        let after = serve(60, newFirst: true)
        #expect(zip(before, after).contains { $0.0 == 1 && $0.1 == 0 })
    }

    @Test("status transitions: pause, resume, rollback, and 409 for what does not apply")
    func stateMachine() throws {
        #expect(try RolloutStatus.running.applying(.pause) == .paused)
        #expect(try RolloutStatus.paused.applying(.resume) == .running)
        #expect(try RolloutStatus.paused.applying(.rollback) == .rolledBack)
        #expect(try RolloutStatus.running.applying(.rollback) == .rolledBack)
        for (status, command) in [(RolloutStatus.paused, RolloutStatus.Command.pause), (.running, .resume), (.completed, .rollback),
                                  (.rolledBack, .resume), (.cancelled, .pause)] {
            #expect(throws: RepositoryError.self) { try status.applying(command) }
            do { _ = try status.applying(command) } catch { #expect(error.code == .conflict) }
        }
        #expect(RolloutStatus.allCases.filter(\.isActive) == [.running, .paused])
    }

    @Test("the guard rolls back a significantly worse new variation (2 % → 40 % errors), in either direction of 'better'")
    func guardFires() {
        let rule = RolloutGuard(metric: "errors", type: .proportion, higherIsBetter: false)
        let control = SufficientStatistics.proportion(n: 900, converted: 18)
        let treatment = SufficientStatistics.proportion(n: 120, converted: 48)
        let evaluation = GuardEvaluation.evaluate(guard: rule, control: control, controlVariation: 0, treatment: treatment, variation: 1)
        #expect(evaluation.action == .rollback)
        #expect((evaluation.pValue ?? 1) < 0.05)
        #expect((evaluation.relativeLift ?? 0) > 10)
        #expect(evaluation.reason.contains("worse"))
        // The same numbers with higher-is-better (a conversion metric going up) proceed.
        let up = GuardEvaluation.evaluate(
            guard: RolloutGuard(metric: "purchase", type: .proportion, higherIsBetter: true), control: control, controlVariation: 0,
            treatment: treatment, variation: 1)
        #expect(up.action == .proceed)
        // Below minContexts in one arm: waiting, whatever the numbers.
        let few = GuardEvaluation.evaluate(
            guard: rule, control: control, controlVariation: 0, treatment: .proportion(n: 99, converted: 90), variation: 1)
        #expect(few.action == .waiting)
        #expect(few.pValue == nil)
    }

    @Test("equal arms: over 200 simulated rollouts of 20 looks each at 2 % vs 2 %, at most alpha of them ever roll back")
    func equalArms() {
        var generator = SplitMix64(seed: 99)
        let rule = RolloutGuard(metric: "errors", type: .proportion, higherIsBetter: false, alpha: 0.05, minContexts: 100)
        var firedRollouts = 0
        for _ in 0..<200 {
            var control = (n: 0.0, converted: 0.0)
            var treatment = (n: 0.0, converted: 0.0)
            for _ in 0..<20 {  // 20 looks while both arms grow to 4,000 contexts
                for _ in 0..<200 {
                    control.n += 1
                    if Double.random(in: 0..<1, using: &generator) < 0.02 { control.converted += 1 }
                    treatment.n += 1
                    if Double.random(in: 0..<1, using: &generator) < 0.02 { treatment.converted += 1 }
                }
                let evaluation = GuardEvaluation.evaluate(
                    guard: rule, control: .proportion(n: control.n, converted: control.converted), controlVariation: 0,
                    treatment: .proportion(n: treatment.n, converted: treatment.converted), variation: 1)
                if evaluation.action == .rollback {
                    firedRollouts += 1
                    break
                }
            }
        }
        // Always valid: the chance of ever rolling back equal arms is at most alpha, however often the guard looks.
        #expect(firedRollouts <= 10, "\(firedRollouts) of 200 rollouts of equal arms were rolled back")
    }

    @Test("a mean metric that got worse (lower is better: latency) rolls back")
    func meanMetric() {
        let rule = RolloutGuard(metric: "latency", type: .mean, higherIsBetter: false, alpha: 0.05, minContexts: 50)
        // 200 contexts at 100 ± 10 ms against 200 at 150 ± 10 ms.
        let control = SufficientStatistics(n: 200, sum: 200 * 100, sumSquares: 200 * (100 * 100 + 100))
        let treatment = SufficientStatistics(n: 200, sum: 200 * 150, sumSquares: 200 * (150 * 150 + 100))
        #expect(GuardEvaluation.evaluate(guard: rule, control: control, controlVariation: 0, treatment: treatment, variation: 1).action
            == .rollback)
    }
}

@Suite("releases: the guard's sequential test on the absolute difference")
struct GuardSequentialTestTests {
    @Test("powerful on a small baseline where the relative lift is not; defined when the control never failed; 1 for equal arms")
    func absoluteDifference() throws {
        let settings = AnalysisSettings(alpha: 0.05)
        let control = SufficientStatistics.proportion(n: 334, converted: 9)
        let treatment = SufficientStatistics.proportion(n: 366, converted: 145)
        let relative = try #require(ExperimentAnalysis.sequentialTest(type: .proportion, control: control, treatment: treatment,
            settings: settings))
        let absolute = try #require(
            ExperimentAnalysis.sequentialAbsoluteTest(type: .proportion, control: control, treatment: treatment, settings: settings))
        #expect(relative.pValue > 0.05)  // what made the relative-lift guard blind on this data (measured through the pipeline)
        #expect(absolute.pValue < 1e-6)
        let difference = treatment.mean - control.mean
        #expect(absolute.ci.lower < difference && difference < absolute.ci.upper && absolute.ci.lower > 0)
        let neverFailed = ExperimentAnalysis.sequentialAbsoluteTest(
            type: .proportion, control: .proportion(n: 300, converted: 0), treatment: .proportion(n: 300,
                converted: 120), settings: settings)
        #expect((neverFailed?.pValue ?? 1) < 1e-6)
        #expect(ExperimentAnalysis.sequentialTest(
            type: .proportion, control: .proportion(n: 300, converted: 0), treatment: .proportion(n: 300,
                converted: 120), settings: settings)
            == nil)
        let equal = ExperimentAnalysis.sequentialAbsoluteTest(type: .proportion, control: control, treatment: control, settings: settings)
        #expect(equal?.pValue == 1)
        #expect(ExperimentAnalysis.sequentialAbsoluteTest(
            type: .proportion, control: .proportion(n: 100, converted: 0), treatment: .proportion(n: 100, converted: 0), settings: settings)
            == nil)
    }
}
