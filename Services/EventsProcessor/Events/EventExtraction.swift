import ModelsCore

/// What one `vane.events.raw` record contributes, before correlation: evaluation counts, exposures
/// and goal events, each keyed the way the tables are.
///
/// Extraction is tolerant: an event that cannot be used is skipped and counted in
/// ``EventExtraction/Statistics``, never an error, so one bad event never blocks a partition.
/// That includes keys PostgreSQL cannot store: a flag key, metric key or context key holding the
/// NUL character (U+0000), which `text` refuses, makes the event malformed (or its context unusable)
/// instead of failing the chunk's transaction again and again.
struct RecordContribution: Sendable {
    /// Evaluation counts: (flag, variation, hour) → count, plus the latest evaluation time.
    var evaluations: [EvaluationCell: EvaluationTally] = [:]
    /// Per (context, flag), the earliest exposure in the record.
    var exposures: [ExposureCell: Exposure] = [:]
    /// Per (context, flag), every distinct exposure instant in the record with its smallest variation: an experiment
    /// iteration needs the first exposure at or after its start, which need not be the record's earliest.
    var exposureInstants: [ExposureCell: [UnixMilliseconds: Int]] = [:]
    /// Per (context, metric, instant), the goal events.
    var goals: [GoalCell: GoalTally] = [:]
}

/// An evaluation-count cell: environment × flag × variation (`-1`: none) × hour of evaluation.
struct EvaluationCell: Hashable, Sendable {
    var environmentID: String
    var flagKey: String
    var variation: Int
    var hour: UnixMilliseconds
}

/// Evaluations in a cell and the latest instant one of them happened.
struct EvaluationTally: Hashable, Sendable {
    var evaluations: Int64
    var lastEvaluatedAt: UnixMilliseconds

    mutating func add(_ other: EvaluationTally) {
        evaluations += other.evaluations
        lastEvaluatedAt = max(lastEvaluatedAt, other.lastEvaluatedAt)
    }
}

/// A context's exposure to a flag.
struct ExposureCell: Hashable, Sendable {
    var context: EnvironmentContext
    var flagKey: String
}

/// A context's goal events of one metric at one instant.
struct GoalCell: Hashable, Sendable {
    var context: EnvironmentContext
    var metricKey: String
    var occurredAt: UnixMilliseconds
}

/// Turns a record's SDK events into a ``RecordContribution``.
struct EventExtraction: Sendable {
    /// Counts of what extraction saw, for metrics and logs.
    struct Statistics: Sendable, Equatable {
        var events = 0
        var featureEvents = 0
        var customEvents = 0
        var summaryEvents = 0
        var otherEvents = 0
        /// Events skipped because a required field was missing or of the wrong type.
        var malformedEvents = 0
        /// Feature or custom events whose context could not be read (counted for evaluations
        /// where possible, but not correlated).
        var eventsWithoutContext = 0
        /// Feature or custom events created longer than the raw retention before they were
        /// received: too late for correlation (see docs/analytics.md).
        var lateEvents = 0

        mutating func add(_ other: Statistics) {
            events += other.events
            featureEvents += other.featureEvents
            customEvents += other.customEvents
            summaryEvents += other.summaryEvents
            otherEvents += other.otherEvents
            malformedEvents += other.malformedEvents
            eventsWithoutContext += other.eventsWithoutContext
            lateEvents += other.lateEvents
        }
    }

    /// Events created more than this long before receipt are not correlated.
    var lateness: UnixMilliseconds

    /// Metric values beyond this magnitude are ignored (the event still counts), so sums of
    /// squares stay within `numeric` and `Decimal` range.
    static let maximumMetricMagnitude = 1e30
    /// Non-zero metric values below this magnitude are ignored too: a square beyond `Decimal`'s exponent range
    /// (1e-64 and smaller) stopped the process.
    static let minimumMetricMagnitude = 1e-30

    /// The events parsing builds: the kinds ``extract(_:omittedEvents:statistics:)`` aggregates. The others (index and
    /// identify events are most of a typical flush) are only validated, then counted as ``Statistics/otherEvents``;
    /// events without a string `kind` are built, so that they are counted as malformed exactly as before.
    static let eventFilter = JSONParser.ElementFilter(
        arrayKey: "events", discriminator: "kind", keptValues: ["feature", "custom", "summary"])

    /// Extracts a record's events.
    ///
    /// - Parameter omittedEvents: Events of kinds outside ``eventFilter``'s that the parser left out of `record` (see
    ///   ``JSONParser/parse(_:omitting:)``): counted like the events of those kinds in `record`.
    func extract(_ record: EventsRecord, omittedEvents: Int = 0, statistics: inout Statistics) -> RecordContribution {
        statistics.events += omittedEvents
        statistics.otherEvents += omittedEvents
        var contribution = RecordContribution()
        let environmentID = record.environmentID
        let correlationCutoff = UnixMilliseconds(record.receivedAt) - lateness

        // Summaries first: a feature event for a flag that a (well-formed) summary of this batch
        // covers is already counted there (SDKs summarize every evaluation, tracked or not).
        var summarizedFlags: Set<String> = []
        for event in record.events {
            guard case .object(let properties) = event, properties["kind"]?.stringValue == "summary" else { continue }
            if let flags = addSummary(properties, environmentID: environmentID, to: &contribution) {
                summarizedFlags.formUnion(flags)
            } else {
                statistics.malformedEvents += 1
            }
        }

        for event in record.events {
            statistics.events += 1
            guard case .object(let properties) = event, let kind = properties["kind"]?.stringValue else {
                statistics.malformedEvents += 1
                continue
            }
            switch kind {
            case "summary":
                statistics.summaryEvents += 1
            case "feature":
                statistics.featureEvents += 1
                guard let flagKey = properties["key"]?.stringValue, Self.isStorable(flagKey),
                    let createdAt = properties["creationDate"]?.integerValue
                else {
                    statistics.malformedEvents += 1
                    continue
                }
                let variation = properties["variation"]?.integerValue.flatMap { $0 >= 0 ? $0 : nil }
                let at = UnixMilliseconds(createdAt)
                if !summarizedFlags.contains(flagKey) {
                    let cell = EvaluationCell(environmentID: environmentID, flagKey: flagKey,
                        variation: variation ?? -1, hour: at.hourStart)
                    contribution.evaluations[cell, default: EvaluationTally(evaluations: 0, lastEvaluatedAt: at)]
                        .add(EvaluationTally(evaluations: 1, lastEvaluatedAt: at))
                }
                guard let variation else { continue }
                guard let contexts = Self.contexts(of: properties), !contexts.isEmpty else {
                    statistics.eventsWithoutContext += 1
                    continue
                }
                guard at >= correlationCutoff else {
                    statistics.lateEvents += 1
                    continue
                }
                let exposure = Exposure(exposedAt: at, variation: variation)
                for context in contexts {
                    let cell = ExposureCell(context: EnvironmentContext(environmentID: environmentID, context: context), flagKey: flagKey)
                    contribution.exposures[cell, default: exposure].keepEarliest(exposure)
                    contribution.exposureInstants[cell, default: [:]][at, default: variation].keepSmaller(variation)
                }
            case "custom":
                statistics.customEvents += 1
                guard let metricKey = properties["key"]?.stringValue, Self.isStorable(metricKey),
                    let createdAt = properties["creationDate"]?.integerValue
                else {
                    statistics.malformedEvents += 1
                    continue
                }
                guard let contexts = Self.contexts(of: properties), !contexts.isEmpty else {
                    statistics.eventsWithoutContext += 1
                    continue
                }
                let at = UnixMilliseconds(createdAt)
                guard at >= correlationCutoff else {
                    statistics.lateEvents += 1
                    continue
                }
                var value = properties["metricValue"]?.numberValue
                if let v = value, !(abs(v) < Self.maximumMetricMagnitude) || (v != 0 && abs(v) < Self.minimumMetricMagnitude) {
                    value = nil
                }
                let tally = GoalTally.event(value: value)
                for context in contexts {
                    let cell = GoalCell(
                        context: EnvironmentContext(environmentID: environmentID, context: context), metricKey: metricKey, occurredAt: at)
                    contribution.goals[cell, default: GoalTally()] += tally
                }
            default:
                // index, identify, debug (a copy of a feature event), migration_op, and kinds this
                // version does not know: kept in the topic, not aggregated.
                statistics.otherEvents += 1
            }
        }
        return contribution
    }

    /// Adds a summary event's counters and returns the flags it covers; nil if it is malformed
    /// (nothing is added then).
    private func addSummary(_ properties: [String: JSONValue], environmentID: String,
        to contribution: inout RecordContribution) -> Dictionary<String, JSONValue>.Keys? {
        guard let startDate = properties["startDate"]?.integerValue, let features = properties["features"]?.objectValue else {
            return nil
        }
        let endDate = UnixMilliseconds(properties["endDate"]?.integerValue ?? startDate)
        let hour = UnixMilliseconds(startDate).hourStart
        var cells: [(EvaluationCell, Int64)] = []
        for (flagKey, feature) in features {
            guard Self.isStorable(flagKey), let counters = feature["counters"]?.arrayValue else { return nil }
            for counter in counters {
                guard let count = counter["count"]?.integerValue, count >= 0 else { return nil }
                let variation = counter["variation"]?.integerValue.flatMap { $0 >= 0 ? $0 : nil } ?? -1
                cells.append((EvaluationCell(environmentID: environmentID, flagKey: flagKey, variation: variation,
                    hour: hour), Int64(count)))
            }
        }
        for (cell, count) in cells where count > 0 {
            contribution.evaluations[cell, default: EvaluationTally(evaluations: 0, lastEvaluatedAt: endDate)]
                .add(EvaluationTally(evaluations: count, lastEvaluatedAt: endDate))
        }
        return features.keys
    }

    /// The individual contexts of an event: from an inline `context` (single-kind, multi-kind or
    /// an old-style user), from `contextKeys` (older context-aware SDKs), or from schema-3 `user` /
    /// `userKey`. Nil when none is usable.
    static func contexts(of properties: [String: JSONValue]) -> [ContextIdentity]? {
        if let context = properties["context"] { return contexts(ofContext: context) }
        if let keys = properties["contextKeys"] {
            guard case .object(let members) = keys else { return nil }
            var result: [ContextIdentity] = []
            for (kind, key) in members {
                guard let key = key.stringValue, !key.isEmpty, isStorable(key),
                    let kind = try? EvaluationContext.validateKind(kind) else { return nil }
                result.append(ContextIdentity(kind: kind, key: key))
            }
            return result
        }
        if let user = properties["user"] { return contexts(ofContext: user) }
        if let key = properties["userKey"]?.stringValue, !key.isEmpty, isStorable(key) { return [ContextIdentity(kind: "user", key: key)] }
        return nil
    }

    /// Whether PostgreSQL's `text` can hold `key` (it refuses U+0000).
    static func isStorable(_ key: String) -> Bool {
        !key.utf8.contains(0)
    }

    /// Kind and key of each individual context in a context object; only what correlation needs
    /// is read (attributes are ignored).
    static func contexts(ofContext value: JSONValue) -> [ContextIdentity]? {
        guard case .object(let properties) = value else { return nil }
        guard let kindValue = properties["kind"] else {
            // The pre-context user format: a user with a key.
            guard let key = properties["key"]?.stringValue, !key.isEmpty, isStorable(key) else { return nil }
            return [ContextIdentity(kind: "user", key: key)]
        }
        guard let kind = kindValue.stringValue else { return nil }
        if kind == "multi" {
            var result: [ContextIdentity] = []
            for (memberKind, member) in properties where memberKind != "kind" {
                guard let valid = try? EvaluationContext.validateKind(memberKind), let key = member["key"]?.stringValue, !key.isEmpty,
                    isStorable(key)
                else { return nil }
                result.append(ContextIdentity(kind: valid, key: key))
            }
            return result.isEmpty ? nil : result
        }
        guard !kind.isEmpty, let valid = try? EvaluationContext.validateKind(kind), let key = properties["key"]?.stringValue, !key.isEmpty,
            isStorable(key)
        else { return nil }
        return [ContextIdentity(kind: valid, key: key)]
    }
}
