import ModelsCore
import Testing
@testable import VaneSDK

@Suite("VaneSDK stream parser")
struct StreamParserTests {
    private func parse(_ text: String, chunk: Int) throws -> [SSEParser.Event] {
        var parser = SSEParser()
        let bytes = Array(text.utf8)
        var events: [SSEParser.Event] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            events += try parser.feed(bytes[start..<end])
            start = end
        }
        return events
    }

    @Test("events survive any chunking, with LF, CR and CRLF line ends", arguments: [1, 2, 3, 7, 1000])
    func chunking(chunk: Int) throws {
        let text = "event: put\ndata: {\"a\":1}\n\n:\r\nevent: patch\r\ndata: x\r\ndata:y\r\n\r\nevent: delete\rdata: z\r\r"
        let events = try parse(text, chunk: chunk)
        #expect(events == [
            SSEParser.Event(name: "put", data: #"{"a":1}"#),
            SSEParser.Event(name: "patch", data: "x\ny"),
            SSEParser.Event(name: "delete", data: "z"),
        ])
    }

    @Test("comments are counted, events without data are not dispatched, unnamed events are messages, ids are kept")
    func fields() throws {
        var parser = SSEParser()
        let events = try parser.feed(Array(":\n:hi\n\nevent: ping\n\nid: 7\ndata:  two spaces\nretry: 5\n\n".utf8))
        #expect(events == [SSEParser.Event(name: "message", data: " two spaces", lastEventID: "7")])
        #expect(parser.comments == 2)
        #expect(parser.lastEventID == "7")
    }

    @Test("put, patch and delete decode; unknown events and paths are ignored; malformed data is an error")
    func messages() throws {
        let put = try StreamMessage.decode(.init(
            name: "put",
            data: #"{"path":"/","data":{"flags":{"f":{"key":"f","version":3,"on":true,"variations":[true,false],"#
                + #""fallthrough":{"variation":0}}},"segments":{}}}"#))
        guard case .put(let payload)? = put else { Issue.record("not a put: \(String(describing: put))"); return }
        #expect(payload.flags["f"]?.version == 3)

        let patch = try StreamMessage.decode(.init(name: "patch", data: #"{"path":"/flags/f","data":{"key":"f","version":4}}"#))
        guard case .patchFlag(let flag)? = patch else { Issue.record("not a flag patch"); return }
        #expect(flag.key == "f" && flag.version == 4)

        let segment = try StreamMessage.decode(.init(name: "patch", data: #"{"path":"/segments/s","data":{"key":"s","version":2}}"#))
        guard case .patchSegment(let s)? = segment else { Issue.record("not a segment patch"); return }
        #expect(s.key == "s")

        let deleteFlag = try StreamMessage.decode(.init(name: "delete", data: #"{"path":"/flags/f","version":5}"#))
        #expect(deleteFlag == .deleteFlag(key: "f", version: 5))
        let deleteSegment = try StreamMessage.decode(.init(name: "delete", data: #"{"path":"/segments/s","version":6}"#))
        #expect(deleteSegment == .deleteSegment(key: "s", version: 6))
        #expect(try StreamMessage.decode(.init(name: "ping", data: " ")) == nil)
        #expect(try StreamMessage.decode(.init(name: "patch", data: #"{"path":"/cats/jack","data":{}}"#)) == nil)

        for bad in [
            SSEParser.Event(name: "put", data: "{"),
            SSEParser.Event(name: "put", data: #"{"data":{"flags":true,"segments":{}}}"#),
            SSEParser.Event(name: "put", data: #"{"data":{"flags":{}}}"#),
            SSEParser.Event(name: "patch", data: #"{"path":"/flags/f","data":{"key":"f","version":1.5}}"#),
            SSEParser.Event(name: "delete", data: #"{"path":"/flags/f","version":"7"}"#),
        ] {
            #expect(throws: StreamMessage.Malformed.self, "\(bad.data)") { try StreamMessage.decode(bad) }
        }
    }

    @Test("reconnect delays double from 1 s to 30 s, lose at most half to jitter, and reset after a healthy minute")
    func backoff() {
        var backoff = Backoff(initial: .seconds(1), maximum: .seconds(30), resetInterval: .seconds(60))
        let start = ContinuousClock.now
        let delays = (0..<7).map { _ in backoff.nextDelay(at: start, jitter: 0) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        let jittered = backoff.nextDelay(at: start, jitter: 0.999)
        #expect(jittered > .seconds(15) && jittered <= .seconds(30))
        backoff.connected(at: start)
        #expect(backoff.nextDelay(at: start + .seconds(10), jitter: 0) == .seconds(30), "a short connection does not reset")
        backoff.connected(at: start)
        #expect(backoff.nextDelay(at: start + .seconds(61), jitter: 0) == .seconds(1))
    }
}

@Suite("VaneSDK flag store")
struct FlagStoreTests {
    private func flag(
        _ key: String, version: Int, on: Bool = true, prerequisites: [Prerequisite] = [], segment: String? = nil
    ) -> FeatureFlag {
        var rules: [FlagRule] = []
        if let segment {
            rules = [FlagRule(clauses: [Clause(attribute: "", op: "segmentMatch", values: [.string(segment)])],
                              variationOrRollout: VariationOrRollout(variation: 0))]
        }
        return FeatureFlag(
            key: key, version: version, on: on, variations: [true, false], offVariation: 1,
            fallthrough: VariationOrRollout(variation: 0), prerequisites: prerequisites, rules: rules)
    }

    @Test("versions decide, tombstones count, and changes name every dependent flag")
    func versionsAndChanges() async throws {
        let store = FlagStore()
        var changes = store.changes.stream().makeAsyncIterator()
        #expect(!store.isInitialized)
        store.replaceAll(PollingPayload(
            flags: ["a": flag("a", version: 1), "b": flag("b", version: 1, prerequisites: [Prerequisite(key: "a", variation: 0)]),
                    "c": flag("c", version: 1, segment: "s"), "d": flag("d", version: 1)],
            segments: ["s": Segment(key: "s", version: 1, included: ["u1"])]))
        #expect(store.isInitialized)
        var first: Set<String> = []
        for _ in 0..<4 { first.insert(await changes.next() ?? "") }
        #expect(first == ["a", "b", "c", "d"])

        store.upsert(flag("a", version: 1, on: false))
        #expect(store.withSnapshot { $0.data.flag("a")?.flag.on } == true, "an equal version is ignored")
        store.upsert(flag("a", version: 2, on: false))
        #expect(await changes.next() == "a")
        #expect(await changes.next() == "b", "b depends on a")

        store.upsert(Segment(key: "s", version: 2))
        #expect(await changes.next() == "c", "c uses segment s")

        store.delete(flag: "d", version: 5)
        #expect(await changes.next() == "d")
        #expect(store.withSnapshot { $0.data.flag("d") } == nil)
        store.upsert(flag("d", version: 4))
        #expect(store.withSnapshot { $0.data.flag("d") } == nil, "an older patch cannot resurrect a deleted flag")
        store.upsert(flag("d", version: 6))
        #expect(await changes.next() == "d")
        #expect(store.cell.retiredCount > 0, "replaced snapshots wait out the grace period")
    }
}
