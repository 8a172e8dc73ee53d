import ExperimentStats

/// What the analytics state holds for one iteration of an experiment, per flag variation index: the sufficient
/// statistics before any statistics are computed.
struct ExperimentObservations: Sendable, Equatable {
    /// Per-metric sums of one variation over the contexts with at least one counted event.
    struct Sums: Sendable, Equatable {
        /// Contexts with at least one counted event (the converted contexts of a proportion metric).
        var contexts: Int64 = 0
        /// Σ of the contexts' values (each a sum of `metricValue`).
        var sum: Double = 0
        /// Σ of the squares of the contexts' values.
        var sumSquares: Double = 0
    }

    /// Contexts in the iteration, by the variation of their first exposure in it.
    var exposed: [Int: Int64] = [:]
    /// Metric key → variation → sums. Contexts without events are absent (their value is 0).
    var metrics: [String: [Int: Sums]] = [:]
}

/// `GET …/experiments/{key}/results`.
struct ExperimentResults: Codable, Sendable, Equatable {
    var experiment: String
    var iteration: ExperimentIteration
    /// When these numbers were computed (the database's clock).
    var updatedAt: String
    var metrics: [MetricResult]
}

/// One metric's results: the SRM p-value and every variation, the control first.
struct MetricResult: Codable, Sendable, Equatable {
    var key: String
    var type: MetricType
    var srmPValue: Double?
    var variations: [VariationAnalysis]

    private enum CodingKeys: String, CodingKey { case key, type, srmPValue, variations }

    init(key: String, type: MetricType, srmPValue: Double?, variations: [VariationAnalysis]) {
        self.key = key
        self.type = type
        self.srmPValue = srmPValue
        self.variations = variations
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        type = try container.decode(MetricType.self, forKey: .type)
        srmPValue = try container.decodeIfPresent(Double.self, forKey: .srmPValue)
        variations = try container.decode([VariationAnalysis].self, forKey: .variations)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(type, forKey: .type)
        try container.encode(srmPValue, forKey: .srmPValue)  // an explicit null: "cannot be computed"
        try container.encode(variations, forKey: .variations)
    }
}

/// Turns observations into results with ``ExperimentAnalysis`` (gbstats' numbers). Pure.
enum ExperimentResultsBuilder {
    /// The variation indices in result order: the control first, then every other variation in index order. Every
    /// variation of the flag appears, and so does any index seen in the data (the flag's variations may have
    /// changed since the exposures).
    static func order(control: Int, variationCount: Int, observations: ExperimentObservations) -> [Int] {
        var highest = max(variationCount - 1, control)
        for index in observations.exposed.keys { highest = max(highest, index) }
        for sums in observations.metrics.values { for index in sums.keys { highest = max(highest, index) } }
        return [control] + (0...highest).filter { $0 != control }
    }

    static func build(
        experiment: Experiment, iteration: ExperimentIteration, variationCount: Int, observations: ExperimentObservations,
        updatedAt: String, settings: AnalysisSettings = AnalysisSettings()
    ) -> ExperimentResults {
        let order = order(control: experiment.controlVariation, variationCount: variationCount, observations: observations)
        // Weights are given in flag index order; a count that no longer matches the variations leaves SRM null.
        let weights = experiment.trafficWeights.map { weights in
            weights.count == order.count ? order.map { weights[$0] } : weights
        }
        let metrics = experiment.metrics.map { metric in
            let sums = observations.metrics[metric.key] ?? [:]
            let statistics = order.map { index -> SufficientStatistics in
                let n = Double(observations.exposed[index] ?? 0)
                let metricSums = sums[index] ?? ExperimentObservations.Sums()
                switch metric.type {
                case .proportion:
                    return .proportion(n: n, converted: Double(metricSums.contexts))
                case .mean:
                    return SufficientStatistics(n: n, sum: metricSums.sum, sumSquares: metricSums.sumSquares)
                }
            }
            let analysis = ExperimentAnalysis.analyze(type: metric.type, variations: statistics, weights: weights, settings: settings)
            var variations = analysis.variations
            for position in variations.indices { variations[position].variation = order[position] }
            return MetricResult(key: metric.key, type: metric.type, srmPValue: analysis.srmPValue, variations: variations)
        }
        return ExperimentResults(experiment: experiment.key, iteration: iteration, updatedAt: updatedAt, metrics: metrics)
    }
}
