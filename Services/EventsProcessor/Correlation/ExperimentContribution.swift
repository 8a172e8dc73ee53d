import Foundation

/// An experiment cell without the metric: environment × flag × variation.
struct VariationCell: Hashable, Sendable {
    var environmentID: String
    var flagKey: String
    var variation: Int
}

/// An experiment cell: environment × flag × variation × metric.
struct MetricCell: Hashable, Sendable {
    var variation: VariationCell
    var metricKey: String
}

/// What the contexts in one experiment cell add up to.
struct MetricTally: Hashable, Sendable {
    /// Exposed contexts with at least one event of the metric, whenever it happened.
    var observedContexts: Int64 = 0
    /// Exposed contexts with at least one event of the metric at or after their first exposure.
    var convertedContexts: Int64 = 0
    /// Events of the metric counted for converted contexts.
    var conversionEvents: Int64 = 0
    var valueSum: Decimal = 0
    var valueSquares: Decimal = 0

    var isZero: Bool {
        observedContexts == 0 && convertedContexts == 0 && conversionEvents == 0 && valueSum.isZero && valueSquares.isZero
    }

    static func + (lhs: MetricTally, rhs: MetricTally) -> MetricTally {
        MetricTally(
            observedContexts: lhs.observedContexts + rhs.observedContexts, convertedContexts: lhs.convertedContexts + rhs.convertedContexts,
            conversionEvents: lhs.conversionEvents + rhs.conversionEvents, valueSum: lhs.valueSum + rhs.valueSum,
            valueSquares: lhs.valueSquares + rhs.valueSquares)
    }

    static prefix func - (tally: MetricTally) -> MetricTally {
        MetricTally(
            observedContexts: -tally.observedContexts, convertedContexts: -tally.convertedContexts,
            conversionEvents: -tally.conversionEvents, valueSum: -tally.valueSum, valueSquares: -tally.valueSquares)
    }
}

/// Everything known about one individual context in one environment: its exposures (per flag,
/// possibly several rows whose earliest counts) and its goal events (per metric and instant).
struct ContextHistory: Sendable {
    var exposures: [String: Exposure] = [:]
    var goals: [String: [UnixMilliseconds: GoalTally]] = [:]

    mutating func addExposure(flagKey: String, _ exposure: Exposure) {
        exposures[flagKey, default: exposure].keepEarliest(exposure)
    }

    mutating func addGoal(metricKey: String, at occurredAt: UnixMilliseconds, _ tally: GoalTally) {
        goals[metricKey, default: [:]][occurredAt, default: GoalTally()] += tally
    }
}

/// Experiment totals, or a change to them.
///
/// The experiment tables are the sum over all contexts of each context's contribution, and a
/// context's contribution depends only on that context's history. So any change to a history
/// (events becoming final, a replay retracting some) is applied as "contribution after minus
/// contribution before" for the contexts it touches: the totals never depend on the order or the
/// batches in which events arrived.
struct ExperimentTotals: Sendable, Equatable {
    var exposedContexts: [VariationCell: Int64] = [:]
    var metrics: [MetricCell: MetricTally] = [:]

    /// Adds one context's contribution: for each flag, the context counts as exposed to the
    /// variation of its first exposure; for each metric it sent, it converted if at least one
    /// event happened at or after that exposure, and those events' values are summed.
    mutating func add(_ history: ContextHistory, environmentID: String, sign: Int64 = 1) {
        for (flagKey, exposure) in history.exposures {
            let cell = VariationCell(environmentID: environmentID, flagKey: flagKey, variation: exposure.variation)
            exposedContexts[cell, default: 0] += sign
            for (metricKey, instants) in history.goals {
                var tally = MetricTally(observedContexts: 1)
                for (occurredAt, goal) in instants where occurredAt >= exposure.exposedAt {
                    tally.convertedContexts = 1
                    tally.conversionEvents += goal.events
                    tally.valueSum += goal.valueSum
                    tally.valueSquares += goal.valueSquares
                }
                let metricCell = MetricCell(variation: cell, metricKey: metricKey)
                metrics[metricCell, default: MetricTally()] = metrics[metricCell, default: MetricTally()] + (sign > 0 ? tally : -tally)
            }
        }
    }

    /// Drops cells whose change is zero.
    mutating func removeZeros() {
        exposedContexts = exposedContexts.filter { $0.value != 0 }
        metrics = metrics.filter { !$0.value.isZero }
    }
}
