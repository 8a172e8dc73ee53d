import ExperimentStats
import Foundation
import ModelsCore
import ServiceKit

// Pure parts of releases (docs/releases.md): request parsing and limits, the weights of each step, the rollout state
// machine and the guard's decision. No I/O, so that they are unit-tested without PostgreSQL.

/// Limits of the releases API (documented in docs/api.md, "Releases").
enum ReleaseLimits {
    /// Steps of one rollout.
    static let maxSteps = 20
    /// The longest hold of one step: 30 days.
    static let maxHoldSeconds = 2_592_000.0
    /// How far ahead a change may be scheduled: 366 days.
    static let maxScheduleAheadSeconds = 366.0 * 86_400
    /// How far in the past `executeAt` may be (client clock skew); such a change is applied at once.
    static let pastToleranceSeconds = 60.0
    /// Pending scheduled changes per flag environment.
    static let maxPendingChanges = 100
    /// Characters of a comment.
    static let maxCommentLength = 1000
    /// A change applied more than this after its due time is marked late in its audit entry.
    static let lateAfterSeconds = 1.0
}

/// When a rollout moves on: hold `holdSeconds` at `percent`, then the next step.
struct RolloutStep: Codable, Sendable, Equatable {
    var percent: Double
    var holdSeconds: Double
}

/// `guard`: roll back when the new variation is significantly worse on `metric` (sequential test).
struct RolloutGuard: Codable, Sendable, Equatable {
    var metric: String
    var type: MetricType
    var higherIsBetter: Bool
    var alpha: Double
    var minContexts: Int

    init(metric: String, type: MetricType, higherIsBetter: Bool, alpha: Double = 0.05, minContexts: Int = 100) {
        self.metric = metric
        self.type = type
        self.higherIsBetter = higherIsBetter
        self.alpha = alpha
        self.minContexts = minContexts
    }

    init(json: JSONValue, path: String, into problems: inout Problems) {
        let properties = json.objectValue ?? [:]
        if json.objectValue == nil { problems.add(path, "expected an object {metric, type, higherIsBetter, alpha?, minContexts?}") }
        metric = properties["metric"]?.stringValue ?? ""
        if !Identifiers.isValidKey(metric) { problems.add("\(path).metric",
            "is required: a custom event key matching [A-Za-z0-9._-]{1,256}") }
        type = properties["type"]?.stringValue.flatMap(MetricType.init(rawValue:)) ?? .proportion
        if properties["type"]?.stringValue.flatMap(MetricType.init(rawValue:)) == nil {
            problems.add("\(path).type", "must be \"proportion\" or \"mean\"")
        }
        higherIsBetter = properties["higherIsBetter"]?.boolValue ?? true
        if properties["higherIsBetter"]?.boolValue == nil { problems.add("\(path).higherIsBetter", "is required: a boolean") }
        alpha = 0.05
        switch properties["alpha"] {
        case nil, .null?: break
        case .number(let value)? where value > 0 && value <= 0.5: alpha = value
        default: problems.add("\(path).alpha", "must be a number in (0, 0.5]")
        }
        minContexts = 100
        switch properties["minContexts"] {
        case nil, .null?: break
        case .number(let value)?:
            if let n = JSONValue.exactInteger(value), (1...10_000_000).contains(n) { minContexts = n } else { fallthrough }
        default: problems.add("\(path).minContexts", "must be an integer within 1...10000000")
        }
    }
}

/// `POST …/rollouts`: `{variation, steps: [{percent, holdSeconds}], guard?}`.
struct RolloutDraft: Sendable, Equatable {
    var variation: Int
    var steps: [RolloutStep]
    var `guard`: RolloutGuard?

    init(variation: Int, steps: [RolloutStep], guard: RolloutGuard? = nil) {
        self.variation = variation
        self.steps = steps
        self.guard = `guard`
    }

    /// Parses and checks what does not depend on the flag: percents strictly increasing, in (0, 100], at most three
    /// decimals (LaunchDarkly weights are thousandths of a percent), the last one 100; holds within 0…30 days.
    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        variation = 0
        switch properties["variation"] {
        case .number(let value)? where JSONValue.exactInteger(value).map { $0 >= 0 } ?? false: variation = Int(value)
        case nil: problems.add("variation", "is required: the index of the variation to roll out")
        default: problems.add("variation", "must be a variation index (an integer ≥ 0)")
        }
        steps = []
        if case .array(let list)? = properties["steps"], !list.isEmpty, list.count <= ReleaseLimits.maxSteps {
            for (i, item) in list.enumerated() {
                guard let step = item.objectValue, case .number(let percent)? = step["percent"],
                      case .number(let hold)? = step["holdSeconds"]
                else {
                    problems.add("steps[\(i)]", "expected {percent, holdSeconds} with numbers")
                    continue
                }
                if !(percent > 0 && percent <= 100) || (percent * 1000).rounded() != percent * 1000 {
                    problems.add("steps[\(i)].percent", "must be within (0, 100] with at most three decimals")
                }
                if let previous = steps.last, percent <= previous.percent {
                    problems.add("steps[\(i)].percent", "must be greater than the previous step's \(previous.percent)")
                }
                if !(hold >= 0 && hold <= ReleaseLimits.maxHoldSeconds) {
                    problems.add("steps[\(i)].holdSeconds", "must be within 0...\(Int(ReleaseLimits.maxHoldSeconds)) seconds")
                }
                steps.append(RolloutStep(percent: percent, holdSeconds: hold))
            }
            if let last = steps.last, last.percent != 100 { problems.add("steps[\(steps.count - 1)].percent", "the last step must be 100") }
        } else {
            problems.add("steps", "must be an array of 1...\(ReleaseLimits.maxSteps) steps {percent, holdSeconds}")
        }
        switch properties["guard"] {
        case nil, .null?: `guard` = nil
        case let value?: `guard` = RolloutGuard(json: value, path: "guard", into: &problems)
        }
        try problems.check()
    }
}

/// The fallthrough of each step. LaunchDarkly buckets a context into [0, 1) (from the rollout's seed and the context
/// key, fixed for the rollout) and serves the first weighted variation whose cumulative weight exceeds the bucket. The
/// weighted variations are always `[control, new]`, so the new variation is served when `bucket ≥ 1 − percent`: a
/// context served the new variation at one step is served it at every later (larger) percent. Keeping the order,
/// the seed and the bucketing attribute fixed is what makes the ramp monotone; the control comes first so that contexts
/// LaunchDarkly cannot bucket (no context of the kind: bucket 0) stay on the control until 100 %.
enum RolloutPlan {
    /// A percent as a LaunchDarkly weight (thousandths of a percent; 100 % = 100000).
    static func weight(percent: Double) -> Int { min(100_000, max(0, Int((percent * 1000).rounded()))) }

    /// `experiment`: a guarded rollout's steps are LaunchDarkly experiment rollouts, so that the SDKs send a full
    /// feature event for each fallthrough evaluation (`inExperiment`), the per-context exposures the guard needs.
    /// Experiment bucketing hashes the same seed and key, so the ramp stays monotone.
    static func choice(control: Int, variation: Int, percent: Double, seed: Int, experiment: Bool = false) -> VariationOrRollout {
        let weight = weight(percent: percent)
        if weight >= 100_000 { return VariationOrRollout(variation: variation) }
        if weight <= 0 { return VariationOrRollout(variation: control) }
        return VariationOrRollout(rollout: Rollout(kind: experiment ? Rollout.Kind.experiment.rawValue : nil, seed: seed, variations: [
            WeightedVariation(variation: control, weight: 100_000 - weight),
            WeightedVariation(variation: variation, weight: weight),
        ]))
    }

    /// The JSON merge patch that sets the fallthrough (the same body `PATCH …/environments/{e}` accepts).
    static func patch(_ choice: VariationOrRollout) -> JSONValue {
        if let rollout = choice.rollout {
            let variations = JSONValue.array(rollout.variations.map {
                ["variation": .number(Double($0.variation)), "weight": .number(Double($0.weight))]
            })
            var object: [String: JSONValue] = ["variations": variations]
            if let seed = rollout.seed { object["seed"] = .number(Double(seed)) }
            if let kind = rollout.kind { object["kind"] = .string(kind) }
            return ["fallthrough": ["rollout": .object(object)]]
        }
        return ["fallthrough": ["variation": .number(Double(choice.variation ?? 0))]]
    }
}

/// `status` of a rollout, and what each control request does to it.
enum RolloutStatus: String, Codable, Sendable, CaseIterable {
    case running, paused, completed
    case rolledBack = "rolled_back"
    case cancelled

    /// Running or paused: the rollout owns the fallthrough.
    var isActive: Bool { self == .running || self == .paused }

    enum Command: String, Sendable { case pause, resume, rollback }

    /// The status after `command`, or a 409 saying why it does not apply.
    func applying(_ command: Command) throws(RepositoryError) -> RolloutStatus {
        switch (self, command) {
        case (.running, .pause): return .paused
        case (.paused, .resume): return .running
        case (.running, .rollback), (.paused, .rollback): return .rolledBack
        case (.paused, .pause): throw RepositoryError.conflict("the rollout is already paused")
        case (.running, .resume): throw RepositoryError.conflict("the rollout is running, not paused")
        default: throw RepositoryError.conflict("the rollout is \(rawValue); only a running or paused rollout can be controlled")
        }
    }
}

/// One look of the guard at the two arms.
struct GuardEvaluation: Codable, Sendable, Equatable {
    enum Action: String, Codable, Sendable {
        /// Fewer than `minContexts` contexts in an arm.
        case waiting
        /// Better, or not significantly different, or not computable: the rollout proceeds.
        case proceed
        case rollback
    }

    struct Arm: Codable, Sendable, Equatable {
        var variation: Int
        var n: Double
        var sum: Double
        var mean: Double
    }

    var action: Action
    var automatic = true
    var reason: String
    var metric: String
    var type: MetricType
    var higherIsBetter: Bool
    var alpha: Double
    var minContexts: Int
    var control: Arm
    var treatment: Arm
    /// Treatment mean − control mean: what the test is about.
    var difference: Double?
    var relativeLift: Double?
    var pValue: Double?
    var ci: [Double]?
    var evaluatedAt: String?

    /// The decision: roll back when the new variation is worse in the guard's direction and the sequential
    /// (always-valid) p-value is below `alpha`, with at least `minContexts` contexts in each arm. The test is
    /// ``ExperimentAnalysis/sequentialAbsoluteTest(type:control:treatment:settings:)``: the confidence sequence the
    /// experiment results use, on the absolute difference of the means (the relative lift is reported too), so the
    /// guard may look as often as it likes without inflating its false-alarm rate.
    static func evaluate(
        guard rule: RolloutGuard, control: SufficientStatistics, controlVariation: Int, treatment: SufficientStatistics,
        variation: Int
    ) -> GuardEvaluation {
        var evaluation = GuardEvaluation(
            action: .waiting, reason: "", metric: rule.metric, type: rule.type, higherIsBetter: rule.higherIsBetter, alpha: rule.alpha,
            minContexts: rule.minContexts,
            control: Arm(variation: controlVariation, n: control.n, sum: control.sum, mean: control.mean),
            treatment: Arm(variation: variation, n: treatment.n, sum: treatment.sum, mean: treatment.mean))
        guard control.n >= Double(rule.minContexts), treatment.n >= Double(rule.minContexts) else {
            evaluation.reason = "waiting for \(rule.minContexts) contexts in each arm (control \(Int(control.n)), new \(Int(treatment.n)))"
            return evaluation
        }
        if control.mean != 0 { evaluation.relativeLift = (treatment.mean - control.mean) / control.mean }
        let settings = AnalysisSettings(alpha: rule.alpha)
        guard let test = ExperimentAnalysis.sequentialAbsoluteTest(type: rule.type, control: control, treatment: treatment,
            settings: settings)
        else {
            evaluation.action = .proceed
            evaluation.reason = "the sequential test cannot be computed yet (no variance in either arm)"
            return evaluation
        }
        let difference = treatment.mean - control.mean
        evaluation.difference = difference
        evaluation.pValue = test.pValue
        evaluation.ci = [test.ci.lower, test.ci.upper]
        let worse = rule.higherIsBetter ? difference < 0 : difference > 0
        let change = "mean \(format(control.mean)) → \(format(treatment.mean))"
            + (evaluation.relativeLift.map { ", relative lift " + String(format: "%+.1f%%", $0 * 100) } ?? "")
        let pText = String(format: "%.4g", test.pValue)
        if worse && test.pValue < rule.alpha {
            evaluation.action = .rollback
            evaluation.reason = "\(rule.metric) is worse with variation \(variation) (\(change); "
                + "\(rule.higherIsBetter ? "higher" : "lower") is better; sequential p-value \(pText) < alpha \(rule.alpha); "
                + "\(Int(control.n)) control and \(Int(treatment.n)) new contexts)"
        } else {
            evaluation.action = .proceed
            evaluation.reason = worse
                ? "\(rule.metric) is not significantly worse (\(change); sequential p-value \(pText) ≥ alpha \(rule.alpha))"
                : "\(rule.metric) is not worse (\(change); sequential p-value \(pText))"
        }
        return evaluation
    }

    private static func format(_ value: Double) -> String { String(format: "%.4g", value) }
}

/// `POST …/scheduled-changes`: `{executeAt, patch, comment?}`.
struct ScheduledChangeDraft: Sendable {
    var executeAt: String
    var executeAtMilliseconds: Int
    var patch: JSONValue
    var comment: String?

    /// Parses the body; `now` (Unix milliseconds) bounds `executeAt` (not more than a minute in the past, at most 366
    /// days ahead). Whether the patch applies is checked against the flag by the store.
    init(json: JSONValue, nowMilliseconds: Int) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        executeAt = properties["executeAt"]?.stringValue ?? ""
        executeAtMilliseconds = 0
        if let milliseconds = rfc3339UnixMilliseconds(executeAt) {
            executeAtMilliseconds = milliseconds
            if Double(milliseconds - nowMilliseconds) < -ReleaseLimits.pastToleranceSeconds * 1000 {
                problems.add("executeAt", "is in the past")
            } else if Double(milliseconds - nowMilliseconds) > ReleaseLimits.maxScheduleAheadSeconds * 1000 {
                problems.add("executeAt", "must be at most 366 days ahead")
            }
        } else {
            problems.add("executeAt", "is required: an RFC 3339 time, e.g. 2026-12-07T09:00:00Z")
        }
        patch = properties["patch"] ?? .null
        if case .object(let object) = patch {
            if object.isEmpty { problems.add("patch", "changes nothing") }
        } else {
            problems.add("patch", "is required: a JSON merge patch of the targeting, as PATCH …/flags/{f}/environments/{e} accepts")
        }
        switch properties["comment"] {
        case nil, .null?: comment = nil
        case .string(let text)? where text.count <= ReleaseLimits.maxCommentLength: comment = text
        default:
            comment = nil
            problems.add("comment", "must be a string of at most \(ReleaseLimits.maxCommentLength) characters")
        }
        try problems.check()
    }
}
