import ModelsCore
import Synchronization

/// A flag or segment as the relay holds it: the newest version seen, and nil for a tombstone. A
/// tombstone keeps its version so that an older record can never bring the item back.
struct VersionedItem<Item: Sendable>: Sendable {
    var version: Int
    var item: Item?
}

/// A flag or a segment: what ``EnvironmentData`` stores per key.
protocol ConfigItem: Sendable {
    var key: String { get set }
    var version: Int { get set }
}

extension FeatureFlag: ConfigItem {}
extension Segment: ConfigItem {}

/// A change to an environment's flags or segments that the relay applied.
struct ConfigChange: Sendable {
    /// What changed: the new item, or the tombstone of one.
    enum Item: Sendable {
        case flag(FeatureFlag)
        case segment(Segment)
        case deletedFlag(key: String, version: Int)
        case deletedSegment(key: String, version: Int)
    }

    let environmentID: String
    /// The environment's data revision after the change.
    let revision: Int
    let item: Item
}

/// One environment's flags and segments, updated record by record from `vane.config`, with a
/// compiled snapshot built on demand.
///
/// Records are applied in place (a dictionary write per record), and the compiled
/// ``EnvironmentSnapshot`` is rebuilt only when someone asks for it after a change: reading a topic
/// of N records therefore costs O(N), not one snapshot per record.
///
/// The **data revision** is the sum of the versions of every flag and segment held, tombstones
/// included. Each applied record raises exactly one item's version, so the revision strictly
/// increases with every change; and because it depends only on the versions held, every relay that
/// has read the changelog to the same point reports the same number, whatever it read before. That
/// makes it usable as the data-version header and the ETag across a fleet of relays.
final class EnvironmentData: Sendable {
    /// Up to this many changed items are patched into the previous snapshot; more rebuild it whole.
    static let incrementalLimit = 32

    let id: String
    private let state = Mutex(State())

    private struct State {
        var flags: [String: VersionedItem<FeatureFlag>] = [:]
        var segments: [String: VersionedItem<Segment>] = [:]
        var revision = 0
        var snapshot: EnvironmentSnapshot?
        var changedFlags: Set<String> = []
        var changedSegments: Set<String> = []
    }

    init(id: String) {
        self.id = id
    }

    /// The current data revision.
    var revision: Int { state.withLock { $0.revision } }

    /// Applies a flag or segment record if it is newer than what is held; returns the change, or nil
    /// when the record was not newer (a republish, or a replay after reconnecting).
    ///
    /// - Throws: when the record's data is not a valid flag or segment (the held item is kept).
    func apply(_ record: ConfigRecord) throws(ModelDecodingError) -> ConfigChange? {
        switch record.kind {
        case .flag:
            try apply(record, FeatureFlag.init(json:path:), in: \.flags, changed: \.changedFlags) { flag in
                flag.map { .flag($0) } ?? .deletedFlag(key: record.key, version: record.version)
            }
        case .segment:
            try apply(record, Segment.init(json:path:), in: \.segments, changed: \.changedSegments) { segment in
                segment.map { .segment($0) } ?? .deletedSegment(key: record.key, version: record.version)
            }
        case .environment:
            nil
        }
    }

    /// ``apply(_:)`` for one kind of item: decoded outside the lock, stored if newer.
    private func apply<Item: ConfigItem>(
        _ record: ConfigRecord, _ decode: (JSONValue, String) throws(ModelDecodingError) -> Item,
        in items: WritableKeyPath<State, [String: VersionedItem<Item>]>, changed: WritableKeyPath<State, Set<String>>,
        as change: (Item?) -> ConfigChange.Item
    ) throws(ModelDecodingError) -> ConfigChange? {
        var item: Item?
        if let data = record.data {
            var decoded = try decode(data, "")
            // The record's key and version decide ordering and tombstones; the stored item agrees with them.
            decoded.key = record.key
            decoded.version = record.version
            item = decoded
        }
        return state.withLock { state -> ConfigChange? in
            let held = state[keyPath: items][record.key]?.version ?? 0
            guard record.version > held else { return nil }
            state[keyPath: items][record.key] = VersionedItem(version: record.version, item: item)
            state.revision += record.version - held
            state[keyPath: changed].insert(record.key)
            return ConfigChange(environmentID: id, revision: state.revision, item: change(item))
        }
    }

    /// The snapshot of the current revision, built now if the data changed since the last one.
    ///
    /// Built under the environment's lock, so concurrent callers wait for one build instead of
    /// each building their own.
    func snapshot() -> EnvironmentSnapshot {
        state.withLock { state in
            if let snapshot = state.snapshot, snapshot.revision == state.revision { return snapshot }
            let evaluation: EvaluationData
            if let previous = state.snapshot,
                state.changedFlags.count + state.changedSegments.count <= Self.incrementalLimit
            {
                var updated = previous.evaluation
                for key in state.changedSegments {
                    if let segment = state.segments[key]?.item {
                        updated = updated.updating(CompiledSegment(segment))
                    } else {
                        updated = updated.removingSegment(key)
                    }
                }
                for key in state.changedFlags {
                    if let flag = state.flags[key]?.item {
                        updated = updated.updating(CompiledFlag(flag))
                    } else {
                        updated = updated.removingFlag(key)
                    }
                }
                evaluation = updated
            } else {
                var payload = PollingPayload()
                for (key, held) in state.flags { if let flag = held.item { payload.flags[key] = flag } }
                for (key, held) in state.segments { if let segment = held.item { payload.segments[key] = segment } }
                evaluation = EvaluationData(payload)
            }
            let snapshot = EnvironmentSnapshot(environmentID: id, revision: state.revision, evaluation: evaluation)
            state.snapshot = snapshot
            state.changedFlags.removeAll(keepingCapacity: true)
            state.changedSegments.removeAll(keepingCapacity: true)
            return snapshot
        }
    }
}
