import Foundation
import Testing

@testable import EventsProcessor

@Suite("Correlation")
struct CorrelationTests {
    let env = "env"

    func totals(_ history: ContextHistory) -> ExperimentTotals {
        var totals = ExperimentTotals()
        totals.add(history, environmentID: env)
        return totals
    }

    func cell(_ flag: String, _ variation: Int, _ metric: String) -> MetricCell {
        MetricCell(variation: VariationCell(environmentID: env, flagKey: flag, variation: variation), metricKey: metric)
    }

    @Test("a goal before the first exposure is observed but not attributed; at or after it is")
    func goalTiming() {
        var history = ContextHistory()
        history.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 1))
        history.addGoal(metricKey: "early", at: 999, GoalTally.event(value: 5))
        history.addGoal(metricKey: "same", at: 1000, GoalTally.event(value: 2))
        history.addGoal(metricKey: "late", at: 5000, GoalTally.event(value: 3))
        history.addGoal(metricKey: "late", at: 500, GoalTally.event(value: 100))
        let result = totals(history)
        #expect(result.exposedContexts == [VariationCell(environmentID: env, flagKey: "f", variation: 1): 1])
        #expect(result.metrics[cell("f", 1, "early")] == MetricTally(observedContexts: 1))
        #expect(result.metrics[cell("f", 1, "same")] == MetricTally(observedContexts: 1, convertedContexts: 1, conversionEvents: 1,
            valueSum: 2, valueSquares: 4))
        #expect(result.metrics[cell("f", 1, "late")] == MetricTally(observedContexts: 1, convertedContexts: 1, conversionEvents: 1,
            valueSum: 3, valueSquares: 9))
    }

    @Test("the first exposure wins whatever order exposures arrive in; ties go to the lower variation")
    func firstExposure() {
        var a = ContextHistory()
        a.addExposure(flagKey: "f", Exposure(exposedAt: 2000, variation: 0))
        a.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 2))
        a.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 1))
        var b = ContextHistory()
        b.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 1))
        b.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 2))
        b.addExposure(flagKey: "f", Exposure(exposedAt: 2000, variation: 0))
        #expect(a.exposures["f"] == Exposure(exposedAt: 1000, variation: 1))
        #expect(totals(a) == totals(b))
    }

    @Test("after minus before moves a context between variations when an earlier exposure arrives")
    func deltas() {
        var before = ContextHistory()
        before.addExposure(flagKey: "f", Exposure(exposedAt: 2000, variation: 0))
        before.addGoal(metricKey: "m", at: 1500, GoalTally.event(value: 1))
        var after = before
        after.addExposure(flagKey: "f", Exposure(exposedAt: 1000, variation: 1))
        var delta = ExperimentTotals()
        delta.add(before, environmentID: env, sign: -1)
        delta.add(after, environmentID: env)
        delta.removeZeros()
        #expect(delta.exposedContexts == [VariationCell(environmentID: env, flagKey: "f", variation: 0): -1,
                                          VariationCell(environmentID: env, flagKey: "f", variation: 1): 1])
        #expect(delta.metrics[cell("f", 0, "m")] == MetricTally(observedContexts: -1))
        #expect(delta.metrics[cell("f", 1, "m")] == MetricTally(observedContexts: 1, convertedContexts: 1, conversionEvents: 1,
            valueSum: 1, valueSquares: 1))
    }
}
