import Foundation
import ModelsCore

/// A deterministic pseudo-random generator (SplitMix64), so a failing seed can be replayed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One SDK event as the test generates it, with everything needed to compute the expected tables
/// independently of the processor's code.
struct GeneratedEvent {
    enum Kind {
        case exposure(flag: String, variation: Int)
        case goal(metric: String, cents: Int?)
    }
    var environmentID: String
    /// (kind, key) of each individual context; more than one means a multi-kind context.
    var contexts: [(String, String)]
    var createdAt: Int64
    var kind: Kind

    var json: String {
        let context: String
        if contexts.count == 1 {
            context = #"{"kind":"\#(contexts[0].0)","key":"\#(contexts[0].1)","name":"n"}"#
        } else {
            context = #"{"kind":"multi","#
                + contexts.map { #""\#($0.0)":{"key":"\#($0.1)"}"# }.joined(separator: ",") + "}"
        }
        switch kind {
        case .exposure(let flag, let variation):
            return #"{"kind":"feature","creationDate":\#(createdAt),"key":"\#(flag)","version":3,"variation":\#(variation),"#
                + #""value":\#(variation),"default":0,"context":\#(context)}"#
        case .goal(let metric, let cents):
            let value = cents.map { #","metricValue":\#(Self.decimalText(cents: $0))"# } ?? ""
            return #"{"kind":"custom","creationDate":\#(createdAt),"key":"\#(metric)","context":\#(context)\#(value)}"#
        }
    }

    static func decimalText(cents: Int) -> String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = abs(cents)
        return "\(sign)\(magnitude / 100).\(String(format: "%02d", magnitude % 100))"
    }
}

/// A batch as an SDK flushes it: some events plus, usually, a summary.
struct GeneratedBatch {
    var environmentID: String
    var payloadID: String
    var events: [GeneratedEvent]
    /// Summary counters: flag → [(variation or nil, count)].
    var summary: [String: [(Int?, Int)]]
    var summaryStart: Int64

    func value(receivedAt: Int64) -> [UInt8] {
        var parts = events.map(\.json)
        if !summary.isEmpty {
            let features = summary.keys.sorted().map { flag in
                let counters = summary[flag]!.map { variation, count in
                    variation.map { #"{"count":\#(count),"value":\#($0),"variation":\#($0),"version":3}"# }
                        ?? #"{"count":\#(count),"value":null,"unknown":true}"#
                }
                return #""\#(flag)":{"default":0,"contextKinds":["user"],"counters":[\#(counters.joined(separator: ","))]}"#
            }
            parts.append(#"{"kind":"summary","startDate":\#(summaryStart),"endDate":\#(summaryStart + 4000),"#
                + #""features":{\#(features.joined(separator: ","))}}"#)
        }
        let raw = Array("[\(parts.joined(separator: ","))]".utf8)
        return EventsRecord.encode(
            environmentID: environmentID, payloadID: payloadID, receivedAt: Int(receivedAt), source: .server, userAgent: "test",
            rawEvents: raw)
    }
}

/// What the analytics tables must contain, computed by brute force from the generated batches.
struct ExpectedTables: Equatable, CustomStringConvertible {
    /// "env|flag|variation" → exposed contexts.
    var exposures: [String: Int64] = [:]
    /// "env|flag|variation|metric" → converted contexts, conversion events, value sum, sum of squares.
    var results: [String: ResultRow] = [:]
    /// "env|flag|variation|hourMs" → evaluations.
    var evaluations: [String: Int64] = [:]
    /// "env|flag" → last evaluated (ms).
    var lastEvaluated: [String: Int64] = [:]

    struct ResultRow: Equatable, CustomStringConvertible {
        var exposed: Int64
        var converted: Int64
        var events: Int64
        var valueSum: Decimal
        var valueSquares: Decimal
        var description: String { "exp=\(exposed) conv=\(converted) ev=\(events) sum=\(valueSum) sq=\(valueSquares)" }
    }

    var description: String {
        "exposures: \(exposures.sorted { $0.key < $1.key })\nresults: \(results.sorted { $0.key < $1.key })\n"
            + "evaluations: \(evaluations.count) cells, \(evaluations.values.reduce(0, +)) total; lastEvaluated: \(lastEvaluated.count)"
    }

    /// The differences, for failure messages.
    func difference(from other: ExpectedTables) -> String {
        var lines: [String] = []
        func compare<V: Equatable>(_ name: String, _ a: [String: V], _ b: [String: V]) {
            for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
                lines.append("\(name) \(key): expected \(a[key].map { "\($0)" } ?? "none"), found \(b[key].map { "\($0)" } ?? "none")")
            }
        }
        compare("exposures", exposures, other.exposures)
        compare("results", results, other.results)
        compare("evaluations", evaluations, other.evaluations)
        compare("lastEvaluated", lastEvaluated, other.lastEvaluated)
        return lines.prefix(30).joined(separator: "\n")
    }

    /// The definitions of docs/analytics.md, applied to every distinct batch once.
    init(batches: [GeneratedBatch]) {
        var seen: Set<String> = []
        var firstExposure: [String: (Int64, Int)] = [:]  // env|flag|kind|key
        var goals: [String: [(Int64, Int?)]] = [:]  // env|kind|key|metric
        for batch in batches where seen.insert("\(batch.environmentID)|\(batch.payloadID)").inserted {
            for (flag, counters) in batch.summary {
                for (variation, count) in counters where count > 0 {
                    let hour = batch.summaryStart - batch.summaryStart % 3_600_000
                    evaluations["\(batch.environmentID)|\(flag)|\(variation ?? -1)|\(hour)", default: 0] += Int64(count)
                    lastEvaluated["\(batch.environmentID)|\(flag)"] = max(lastEvaluated["\(batch.environmentID)|\(flag)"] ?? 0,
                        batch.summaryStart + 4000)
                }
            }
            for event in batch.events {
                switch event.kind {
                case .exposure(let flag, let variation):
                    if batch.summary[flag] == nil {
                        let hour = event.createdAt - event.createdAt % 3_600_000
                        evaluations["\(event.environmentID)|\(flag)|\(variation)|\(hour)", default: 0] += 1
                        lastEvaluated["\(event.environmentID)|\(flag)"] = max(lastEvaluated["\(event.environmentID)|\(flag)"] ?? 0,
                            event.createdAt)
                    }
                    for (kind, key) in event.contexts {
                        let id = "\(event.environmentID)|\(flag)|\(kind)|\(key)"
                        let candidate = (event.createdAt, variation)
                        if let current = firstExposure[id], !(candidate < current) { continue }
                        firstExposure[id] = candidate
                    }
                case .goal(let metric, let cents):
                    for (kind, key) in event.contexts {
                        goals["\(event.environmentID)|\(kind)|\(key)|\(metric)", default: []].append((event.createdAt, cents))
                    }
                }
            }
        }
        // Metrics sent by each context, for "which metrics does a flag's exposed population have".
        var metricsByContext: [String: Set<String>] = [:]
        for key in goals.keys {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            metricsByContext["\(parts[0])|\(parts[1])|\(parts[2])", default: []].insert(parts[3])
        }
        var flagMetrics: [String: Set<String>] = [:]
        for (id, (_, variation)) in firstExposure {
            let parts = id.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            exposures["\(parts[0])|\(parts[1])|\(variation)", default: 0] += 1
            flagMetrics["\(parts[0])|\(parts[1])", default: []].formUnion(metricsByContext["\(parts[0])|\(parts[2])|\(parts[3])"] ?? [])
        }
        for (flagID, metrics) in flagMetrics {
            for (variationID, exposed) in exposures where variationID.hasPrefix(flagID + "|") {
                for metric in metrics {
                    results["\(variationID)|\(metric)"] = ResultRow(exposed: exposed, converted: 0, events: 0, valueSum: 0, valueSquares: 0)
                }
            }
        }
        for (id, (exposedAt, variation)) in firstExposure {
            let parts = id.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let (env, flag, kind, key) = (parts[0], parts[1], parts[2], parts[3])
            for metric in metricsByContext["\(env)|\(kind)|\(key)"] ?? [] {
                let counted = goals["\(env)|\(kind)|\(key)|\(metric)"]!.filter { $0.0 >= exposedAt }
                guard !counted.isEmpty else { continue }
                let rowID = "\(env)|\(flag)|\(variation)|\(metric)"
                results[rowID]!.converted += 1
                results[rowID]!.events += Int64(counted.count)
                for (_, cents) in counted {
                    guard let cents else { continue }
                    let value = Decimal(cents) / 100
                    results[rowID]!.valueSum += value
                    results[rowID]!.valueSquares += value * value
                }
            }
        }
    }

    init() {}
}

/// A generated event stream: environments × flags × contexts, with exposures and goal events at
/// random times (goals often before exposures), multi-kind contexts, shuffled into batches.
enum GroundTruthGenerator {
    static func batches(seed: UInt64, environments: [String], contextsPerEnvironment: Int, base: Int64, span: Int64) -> [GeneratedBatch] {
        var random = SeededRandom(seed: seed)
        var batches: [GeneratedBatch] = []
        let flags = [("checkout", 2), ("pricing", 3)]
        for environment in environments {
            var events: [GeneratedEvent] = []
            for c in 0..<contextsPerEnvironment {
                let user = ("user", "u\(c)")
                let org = ("org", "o\(c % 7)")
                func contexts() -> [(String, String)] {
                    Int.random(in: 0..<5, using: &random) == 0 ? [user, org] : [user]
                }
                for (flag, variations) in flags where Int.random(in: 0..<10, using: &random) < 8 {
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        events.append(GeneratedEvent(
                            environmentID: environment, contexts: contexts(), createdAt: base + Int64.random(in: 0..<span, using: &random),
                            kind: .exposure(flag: flag, variation: Int.random(in: 0..<variations, using: &random))))
                    }
                }
                for _ in 0..<Int.random(in: 0...4, using: &random) {
                    events.append(GeneratedEvent(
                        environmentID: environment, contexts: contexts(), createdAt: base + Int64.random(in: 0..<span, using: &random),
                        kind: .goal(metric: "purchase", cents: Int.random(in: -500...50_000, using: &random))))
                }
                for _ in 0..<Int.random(in: 0...2, using: &random) {
                    events.append(GeneratedEvent(
                        environmentID: environment, contexts: contexts(), createdAt: base + Int64.random(in: 0..<span, using: &random),
                        kind: .goal(metric: "click", cents: nil)))
                }
            }
            events.shuffle(using: &random)
            var index = 0
            var batchNumber = 0
            while index < events.count {
                let size = Int.random(in: 1...12, using: &random)
                let slice = Array(events[index..<min(index + size, events.count)])
                index += slice.count
                var summary: [String: [(Int?, Int)]] = [:]
                if Int.random(in: 0..<3, using: &random) > 0 {
                    // A summary covering some flags: their feature events in this batch are not
                    // counted again.
                    for (flag, variations) in flags where Int.random(in: 0..<2, using: &random) == 0 {
                        summary[flag] = (0..<variations).map { ($0, Int.random(in: 0...20, using: &random)) }
                        if Int.random(in: 0..<4, using: &random) == 0 { summary[flag]!.append((nil, 3)) }
                    }
                }
                batches.append(GeneratedBatch(
                    environmentID: environment, payloadID: "\(environment)-\(seed)-\(batchNumber)", events: slice, summary: summary,
                    summaryStart: base + Int64.random(in: 0..<span, using: &random)))
                batchNumber += 1
            }
        }
        batches.shuffle(using: &random)
        return batches
    }
}
