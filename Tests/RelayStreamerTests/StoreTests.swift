import ConfigFeed
import ModelsCore
import NIOCore
import Prometheus
import ServiceKit
import Synchronization
import Testing
import TestSupport

@testable import RelayStreamer

@Suite("Relay store")
struct StoreTests {
    /// Records what the store reports; `streams` says which environments pretend to have streams.
    final class Recorder: ConfigChangeObserver {
        let changes = Mutex<[ConfigChange]>([])
        let updated = Mutex<[String]>([])
        let removed = Mutex<[String]>([])
        let streams: Set<String>

        init(streams: Set<String> = [Fixtures.environmentID]) { self.streams = streams }

        func hasStreams(environmentID: String) -> Bool { streams.contains(environmentID) }
        func changed(_ change: ConfigChange) { changes.withLock { $0.append(change) } }
        func environmentUpdated(_ environment: EnvironmentRecord) { updated.withLock { $0.append(environment.id) } }
        func environmentRemoved(id: String) { removed.withLock { $0.append(id) } }
    }

    private func makeStore(_ recorder: Recorder = Recorder()) -> RelayStore {
        RelayStore(
            directory: EnvironmentDirectory(), observer: recorder, environmentsGauge: ServiceMetrics().gauge("environments", help: "test"),
            logger: TestLogger.make("store"))
    }

    @Test("keeps the highest version per item; tombstones keep theirs, so older records never resurrect an item")
    func versionGuard() throws {
        let recorder = Recorder()
        let store = makeStore(recorder)
        store.apply(Fixtures.environment())
        store.apply(Fixtures.flag("f", version: 2))
        store.apply(Fixtures.flag("f", version: 1, on: false))
        store.apply(Fixtures.flag("f", version: 2, on: false))
        let data = try #require(store.data(for: Fixtures.environmentID))
        #expect(data.snapshot().evaluation.flag("f")?.flag.on == true)
        store.apply(Fixtures.flagTombstone("f", version: 3))
        #expect(data.snapshot().evaluation.flag("f") == nil)
        store.apply(Fixtures.flag("f", version: 3))
        #expect(data.snapshot().evaluation.flag("f") == nil, "a record not newer than the tombstone is ignored")
        store.apply(Fixtures.flag("f", version: 4, on: false))
        #expect(data.snapshot().evaluation.flag("f")?.flag.on == false)
        #expect(recorder.changes.withLock { $0.map(\.revision) } == [2, 3, 4])
    }

    @Test("the data revision is the sum of held versions: monotonic, and the same whatever was read before")
    func revision() throws {
        let full = makeStore()
        for version in 1...5 { full.apply(Fixtures.flag("a", version: version)) }
        full.apply(Fixtures.segment("s", version: 1, included: ["x"]))
        full.apply(Fixtures.segment("s", version: 2, included: ["y"]))
        full.apply(Fixtures.flagTombstone("b", version: 7))

        let compacted = makeStore()
        compacted.apply(Fixtures.flag("a", version: 5))
        compacted.apply(Fixtures.segment("s", version: 2, included: ["y"]))
        compacted.apply(Fixtures.flagTombstone("b", version: 7))

        let revision = try #require(full.data(for: Fixtures.environmentID)).revision
        #expect(revision == 5 + 2 + 7)
        #expect(try #require(compacted.data(for: Fixtures.environmentID)).revision == revision)
    }

    @Test("snapshots patched incrementally equal snapshots rebuilt from scratch")
    func incrementalSnapshots() throws {
        let incremental = makeStore()
        let data = try #require(incremental.data(for: Fixtures.environmentID))
        _ = data.snapshot()
        var records: [ConfigRecord] = []
        for i in 0..<40 {
            records.append(Fixtures.flag("f\(i % 7)", version: i + 1, on: i % 3 != 0))
            if i % 5 == 0 { records.append(Fixtures.segment("s\(i % 2)", version: i + 1, included: ["k\(i)"])) }
            if i % 9 == 0 { records.append(Fixtures.flagTombstone("f\(i % 7)", version: i + 100)) }
        }
        for record in records {
            incremental.apply(record)
            _ = data.snapshot()  // one change at a time: always the incremental path
        }
        let rebuilt = makeStore()
        for record in records { rebuilt.apply(record) }
        let a = data.snapshot()
        let b = try #require(rebuilt.data(for: Fixtures.environmentID)).snapshot()
        #expect(a.revision == b.revision)
        #expect(Set(a.evaluation.flags.keys) == Set(b.evaluation.flags.keys))
        for (key, flag) in a.evaluation.flags { #expect(flag.flag == b.evaluation.flags[key]?.flag) }
        #expect(Set(a.evaluation.segments.keys) == Set(b.evaluation.segments.keys))
        #expect(PreparedPayload(snapshot: a).body == PreparedPayload(snapshot: b).body)
    }

    @Test("the payload is serialized once per snapshot; the polling body is a slice of the put event")
    func preparedPayload() throws {
        let store = makeStore()
        store.apply(Fixtures.flag("f", version: 3))
        store.apply(Fixtures.flagTombstone("gone", version: 2))
        let snapshot = try #require(store.data(for: Fixtures.environmentID)).snapshot()
        let gate = BuildGate(limit: 1)
        let payload = try #require(snapshot.preparedPayload(gate: gate))
        let body = String(buffer: payload.body)
        let parsed = try PollingPayload(json: try JSONParser.parse(body))
        #expect(Set(parsed.flags.keys) == ["f"], "tombstones are left out")
        #expect(parsed.segments.isEmpty)
        #expect(body.hasPrefix("{\"flags\":{"))
        #expect(String(buffer: payload.putFrame.plain) == "event: put\ndata: {\"path\":\"/\",\"data\":\(body)}\n\n")
        #expect(payload.etag == "\"r5\"")
        // A second request reuses the build even when no build slot is free.
        let busy = BuildGate(limit: 1)
        let second = busy.run { snapshot.preparedPayload(gate: busy) }
        #expect(second??.body == payload.body)
    }

    @Test("an environment tombstone drops its data; its later records are ignored")
    func environmentRemoval() throws {
        let recorder = Recorder()
        let store = makeStore(recorder)
        store.apply(Fixtures.environment(version: 1))
        store.apply(Fixtures.flag("f", version: 1))
        store.apply(Fixtures.environment(version: 2, sdkKeys: [("rotated", nil)]))
        store.apply(Fixtures.environmentTombstone(version: 3))
        #expect(recorder.updated.withLock { $0 } == [Fixtures.environmentID, Fixtures.environmentID])
        #expect(recorder.removed.withLock { $0 } == [Fixtures.environmentID])
        #expect(store.data(for: Fixtures.environmentID) == nil)
        store.apply(Fixtures.flag("f", version: 2))
        #expect(store.data(for: Fixtures.environmentID) == nil)
        #expect(store.directory.environment(id: Fixtures.environmentID) == nil)
    }

    @Test("changes of environments without streams are not turned into events")
    func noStreamsNoEvents() {
        let recorder = Recorder(streams: [])
        let store = makeStore(recorder)
        store.apply(Fixtures.flag("f", version: 1))
        #expect(recorder.changes.withLock { $0.isEmpty })
    }

    @Test("an undecodable record is skipped and the held item kept")
    func undecodable() throws {
        let store = makeStore()
        store.apply(Fixtures.flag("f", version: 1))
        store.apply(ConfigRecord(kind: .flag, environmentID: Fixtures.environmentID, key: "f", version: 2, data: ["variations": "nope"]))
        #expect(try #require(store.data(for: Fixtures.environmentID)).snapshot().evaluation.flag("f")?.flag.version == 1)
    }

    @Test("admission control refuses builds beyond the limit and counts refusals")
    func buildGate() {
        let gate = BuildGate(limit: 2)
        let nested = gate.run { gate.run { gate.run { 1 } } }
        #expect(nested == .some(.some(nil)))
        #expect(gate.refusedCount == 1)
        #expect(gate.run { 2 } == 2, "slots are released")
        let unlimited = BuildGate(limit: 0)
        #expect(unlimited.run { unlimited.run { unlimited.run { 3 } } } == 3)
    }
}
