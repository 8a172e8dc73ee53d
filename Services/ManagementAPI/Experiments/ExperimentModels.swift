import ExperimentStats
import ModelsCore
import ServiceKit

/// One metric of an experiment: the key of the SDK custom events (`track`) it counts and how they become a
/// per-context value.
struct ExperimentMetric: Codable, Sendable, Equatable {
    /// The custom event key.
    var key: String
    var type: MetricType
    /// Whether a higher value is the better outcome (shown to readers; the statistics are two-sided either way).
    var higherIsBetter: Bool
}

/// One iteration: the window [start, stop) whose exposures an analysis counts. JSON times are RFC 3339 UTC with
/// milliseconds; `stop` is null while the iteration runs.
struct ExperimentIteration: Codable, Sendable, Equatable {
    var number: Int
    var start: String
    var stop: String?

    private enum CodingKeys: String, CodingKey { case number, start, stop }

    init(number: Int, start: String, stop: String?) {
        self.number = number
        self.start = start
        self.stop = stop
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(number, forKey: .number)
        try container.encode(start, forKey: .start)
        try container.encode(stop, forKey: .stop)  // an explicit null while running
    }
}

/// An experiment as the API returns it.
struct Experiment: Codable, Sendable, Equatable {
    /// `draft` (never started), `running` (an iteration is open) or `stopped` (the last iteration is closed).
    enum Status: String, Codable, Sendable { case draft, running, stopped }

    var key: String
    var name: String
    var description: String
    var flagKey: String
    var environmentKey: String
    var controlVariation: Int
    var metrics: [ExperimentMetric]
    /// The expected split over the flag's variations (index order); null means equal weights.
    var trafficWeights: [Double]?
    var status: Status
    /// The current (running) or last iteration; null before the first start.
    var iteration: ExperimentIteration?
    var createdAt: String
    var updatedAt: String

    private enum CodingKeys: String, CodingKey {
        case key, name, description, flagKey, environmentKey, controlVariation, metrics, trafficWeights, status, iteration
        case createdAt, updatedAt
    }

    /// Explicit nulls for `trafficWeights` and `iteration`: every field is always present.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(name, forKey: .name)
        try container.encode(description, forKey: .description)
        try container.encode(flagKey, forKey: .flagKey)
        try container.encode(environmentKey, forKey: .environmentKey)
        try container.encode(controlVariation, forKey: .controlVariation)
        try container.encode(metrics, forKey: .metrics)
        try container.encode(trafficWeights, forKey: .trafficWeights)
        try container.encode(status, forKey: .status)
        try container.encode(iteration, forKey: .iteration)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }

    /// The audit log's resource name.
    static func resource(projectKey: String, key: String) -> String { "proj/\(projectKey):experiment/\(key)" }
}

/// Limits of the experiment resource (documented in docs/api.md).
enum ExperimentLimits {
    /// Metrics per experiment.
    static let metrics = 50
    /// UTF-8 bytes of a metric (custom event) key.
    static let metricKeyBytes = 256
    /// UTF-8 bytes of a description.
    static let descriptionBytes = 10_000
}

/// A validated `POST …/experiments` body. Checks that need the database (the flag, the environment, the
/// variation count) are in ``validate(variationCount:environmentExists:)``.
struct ExperimentDraft: Sendable, Equatable {
    var key: String
    var name: String
    var description: String
    var flagKey: String
    var environmentKey: String
    var controlVariation: Int
    var metrics: [ExperimentMetric]
    var trafficWeights: [Double]?

    /// Reads a request body; every problem is reported with the path of its field in one 422.
    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        key = problems.key(properties["key"], at: "key")
        name = problems.name(properties["name"], at: "name")
        description = ExperimentFields.description(properties["description"], into: &problems) ?? ""
        flagKey = problems.key(properties["flagKey"], at: "flagKey")
        environmentKey = problems.key(properties["environmentKey"], at: "environmentKey")
        controlVariation = ExperimentFields.variationIndex(properties["controlVariation"], into: &problems) ?? 0
        metrics = ExperimentFields.metrics(properties["metrics"], into: &problems) ?? []
        trafficWeights = ExperimentFields.weights(properties["trafficWeights"], into: &problems)
        try problems.check()
    }

    /// The checks against the flag and the environment: `variationCount` is nil when the flag does not exist.
    func validate(variationCount: Int?, environmentExists: Bool) throws(ValidationError) {
        var problems = Problems()
        if !environmentExists { problems.add("environmentKey", "environment \"\(environmentKey)\" does not exist in this project") }
        if let variationCount {
            ExperimentFields.check(control: controlVariation, weights: trafficWeights, variationCount: variationCount, into: &problems)
        } else {
            problems.add("flagKey", "flag \"\(flagKey)\" does not exist in this project")
        }
        try problems.check()
    }
}

/// A validated `PATCH …/experiments/{key}` body (a partial update: absent fields are kept).
struct ExperimentPatch: Sendable, Equatable {
    var name: String?
    var description: String?
    var metrics: [ExperimentMetric]?
    /// Present (possibly as null, meaning equal weights) when the body has `trafficWeights`.
    var trafficWeights: [Double]??

    /// Whether the patch changes what an analysis counts (refused while an iteration runs).
    var changesAnalysis: Bool { metrics != nil || trafficWeights != nil }

    init(json: JSONValue, key: String) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        if let name = properties["name"] { self.name = problems.name(name, at: "name") }
        description = ExperimentFields.description(properties["description"], into: &problems)
        if let list = properties["metrics"] { metrics = ExperimentFields.metrics(list, into: &problems) }
        if let weights = properties["trafficWeights"] {
            trafficWeights = .some(ExperimentFields.weights(weights, into: &problems))
        }
        if let bodyKey = properties["key"], bodyKey != .string(key) { problems.add("key", "is immutable") }
        for field in ["flagKey", "environmentKey", "controlVariation"] where properties[field] != nil {
            problems.add(field, "cannot be changed; create a new experiment")
        }
        try problems.check()
    }
}

/// Field readers shared by the create and patch bodies.
enum ExperimentFields {
    static func description(_ value: JSONValue?, into problems: inout Problems) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            if text.utf8.count > ExperimentLimits.descriptionBytes {
                problems.add("description", "may have at most \(ExperimentLimits.descriptionBytes) bytes")
            }
            return text
        case let other?:
            problems.add("description", "expected a string, found \(other.typeName)")
            return nil
        }
    }

    static func variationIndex(_ value: JSONValue?, into problems: inout Problems) -> Int? {
        guard case .number(let number)? = value else {
            problems.add("controlVariation", value == nil ? "is required" : "expected a variation index, found \(value!.typeName)")
            return nil
        }
        guard let index = JSONValue.exactInteger(number), index >= 0 else {
            problems.add("controlVariation", "must be a variation index (an integer ≥ 0)")
            return nil
        }
        return index
    }

    static func metrics(_ value: JSONValue?, into problems: inout Problems) -> [ExperimentMetric]? {
        guard case .array(let list)? = value else {
            problems.add("metrics", value == nil ? "is required" : "expected an array of metrics, found \(value!.typeName)")
            return nil
        }
        if list.isEmpty { problems.add("metrics", "needs at least one metric") }
        if list.count > ExperimentLimits.metrics { problems.add("metrics", "may have at most \(ExperimentLimits.metrics) metrics") }
        var metrics: [ExperimentMetric] = []
        var seen: Set<String> = []
        for (i, item) in list.enumerated() {
            guard case .object(let properties) = item else {
                problems.add("metrics[\(i)]", "expected an object {key, type, higherIsBetter?}")
                continue
            }
            var metric = ExperimentMetric(key: "", type: .proportion, higherIsBetter: true)
            switch properties["key"] {
            case .string(let key)? where !key.isEmpty && key.utf8.count <= ExperimentLimits.metricKeyBytes:
                metric.key = key
                if !seen.insert(key).inserted { problems.add("metrics[\(i)].key", "duplicate metric \"\(key)\"") }
            case .string?:
                problems.add("metrics[\(i)].key", "must be a custom event key of 1 to \(ExperimentLimits.metricKeyBytes) bytes")
            case nil:
                problems.add("metrics[\(i)].key", "is required (the key of the custom events the metric counts)")
            case let other?:
                problems.add("metrics[\(i)].key", "expected a string, found \(other.typeName)")
            }
            switch properties["type"] {
            case .string(let text)?:
                if let type = MetricType(rawValue: text) { metric.type = type } else {
                    problems.add("metrics[\(i)].type", "must be \"proportion\" or \"mean\", got \"\(text)\"")
                }
            case nil: problems.add("metrics[\(i)].type", "is required (\"proportion\" or \"mean\")")
            case let other?: problems.add("metrics[\(i)].type", "expected a string, found \(other.typeName)")
            }
            switch properties["higherIsBetter"] {
            case nil, .null?: break
            case .bool(let flag)?: metric.higherIsBetter = flag
            case let other?: problems.add("metrics[\(i)].higherIsBetter", "expected a boolean, found \(other.typeName)")
            }
            metrics.append(metric)
        }
        return metrics
    }

    static func weights(_ value: JSONValue?, into problems: inout Problems) -> [Double]? {
        switch value {
        case nil, .null?: return nil
        case .array(let list)?:
            var weights: [Double] = []
            for (i, item) in list.enumerated() {
                if case .number(let weight) = item, weight.isFinite, weight >= 0 {
                    weights.append(weight)
                } else {
                    problems.add("trafficWeights[\(i)]", "must be a number ≥ 0")
                }
            }
            if weights.count == list.count, !(weights.reduce(0, +) > 0) {
                problems.add("trafficWeights", "at least one weight must be positive")
            }
            return weights
        case let other?:
            problems.add("trafficWeights", "expected an array of numbers, found \(other.typeName)")
            return nil
        }
    }

    /// The control index and the weights against the flag's variations.
    static func check(control: Int, weights: [Double]?, variationCount: Int, into problems: inout Problems) {
        if control >= variationCount {
            problems.add("controlVariation", "the flag has \(variationCount) variations (0…\(variationCount - 1)); got \(control)")
        }
        if variationCount < 2 { problems.add("flagKey", "an experiment needs a flag with at least 2 variations") }
        if let weights, weights.count != variationCount {
            problems.add("trafficWeights", "needs one weight per variation of the flag (\(variationCount)), got \(weights.count)")
        }
    }
}
