import Testing

@testable import EventsProcessor

@Suite("Finalized contexts")
struct FinalizedContextsTests {
    static func hash(_ key: String) -> UInt64 { ContextFilter.hash(environmentID: "env", kind: "user", key: key) }

    @Test("the filter holds every inserted context and about 1 % of the others at its capacity")
    func filter() {
        var filter = ContextFilter(capacity: 200_000, minimumBits: 0)
        let members = (0..<filter.capacity).map { Self.hash("member-\($0)") }
        for hash in members { filter.insert(hash) }
        #expect(members.allSatisfy(filter.mayContain))
        let others = (0..<100_000).filter { filter.mayContain(Self.hash("other-\($0)")) }.count
        // 10 bits and 7 probes per context: 0.8 % expected; a broken second hash gives tens of percent.
        #expect(others < 2_000, "\(others) false positives in 100,000")
        #expect(filter.count == filter.capacity)
        // The same strings in another field are another context.
        #expect(ContextFilter.hash(environmentID: "a", kind: "b", key: "c") != ContextFilter.hash(environmentID: "b", kind: "a", key: "c"))
    }

    static func transition(_ from: Int64, _ to: Int64, _ keys: [String]) -> FinalizedContexts.Transition {
        .init(from: from, to: to, contexts: keys.map(hash))
    }

    static func built(_ keys: [String], at generation: Int64) -> (filter: ContextFilter, generation: Int64) {
        var filter = ContextFilter(capacity: 10, minimumBits: 1 << 12)
        for key in keys { filter.insert(hash(key)) }
        return (filter, generation)
    }

    @Test("used only at the generation it is complete for; own rounds carry it forward, any other change drops it")
    func generations() {
        let contexts = FinalizedContexts()
        let start = ContinuousClock.now
        #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: 0, now: start) == nil, "no filter before the first build")
        #expect(contexts.claimBuild(now: start))
        #expect(!contexts.claimBuild(now: start), "one build at a time")
        contexts.finishBuild(Self.built(["a"], at: 3))
        #expect(contexts.mayHaveFinalRows([Self.hash("a"), Self.hash("b")], at: 3, now: start) == [true, false])

        contexts.committed(Self.transition(3, 5, ["b"]), now: start)
        #expect(contexts.mayHaveFinalRows([Self.hash("a"), Self.hash("b"), Self.hash("c")], at: 5, now: start) == [true, true, false])
        contexts.committed(Self.transition(5, 5, ["ignored"]), now: start)
        #expect(contexts.mayHaveFinalRows([Self.hash("ignored")], at: 5, now: start) == [false], "no change, nothing recorded")

        // Someone else wrote final rows (generation 6): the filter may lack their contexts.
        let foreign = start + .seconds(60)
        #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: 6, now: foreign) == nil)
        #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: 5, now: foreign) == nil, "dropped, not only skipped")
        #expect(!contexts.claimBuild(now: start + .seconds(10)), "rebuilt no sooner than the interval after the last build")
        #expect(!contexts.claimBuild(now: start + contexts.rebuildInterval), "…nor after someone else's last change")
        #expect(contexts.claimBuild(now: foreign + contexts.rebuildInterval))
        contexts.finishBuild(nil)
        #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: 6) == nil, "a failed build installs nothing")
    }

    @Test("while other processors keep correlating, the filter is not rebuilt for nothing")
    func takingTurns() {
        let contexts = FinalizedContexts()
        let start = ContinuousClock.now
        #expect(contexts.claimBuild(now: start))
        contexts.finishBuild(Self.built([], at: 0))
        var now = start
        var generation: Int64 = 0
        for _ in 0..<20 {
            // Another processor's round, then one of ours, every minute.
            now += .seconds(60)
            generation += 2
            #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: generation, now: now) == nil)
            contexts.committed(Self.transition(generation, generation + 2, ["a"]), now: now)
            generation += 2
            #expect(!contexts.claimBuild(now: now))
        }
        // The other processor stopped: after the interval without foreign changes, one rebuild.
        #expect(contexts.mayHaveFinalRows([Self.hash("a")], at: generation, now: now + .seconds(1)) == nil)
        #expect(contexts.claimBuild(now: now + contexts.rebuildInterval + .seconds(1)))
    }

    @Test("an own round that skipped a generation drops the filter")
    func gap() {
        let contexts = FinalizedContexts()
        #expect(contexts.claimBuild(now: .now))
        contexts.finishBuild(Self.built(["a"], at: 1))
        contexts.committed(Self.transition(2, 3, ["b"]))
        #expect(contexts.mayHaveFinalRows([Self.hash("b")], at: 3) == nil)
    }

    @Test("a build applies the own rounds committed while it ran, as long as they continue its snapshot")
    func buildCatchesUp() {
        let contexts = FinalizedContexts()
        #expect(contexts.claimBuild(now: .now))
        contexts.committed(Self.transition(1, 2, ["seen-by-build"]))  // committed before the build's snapshot
        contexts.committed(Self.transition(2, 4, ["b"]))
        contexts.committed(Self.transition(4, 6, ["c"]))
        #expect(contexts.mayHaveFinalRows([Self.hash("b")], at: 4) == nil, "no filter while the first build runs")
        contexts.finishBuild(Self.built(["seen-by-build"], at: 2))
        let hashes = ["seen-by-build", "b", "c", "d"].map(Self.hash)
        #expect(contexts.mayHaveFinalRows(hashes, at: 6) == [true, true, true, false])

        // A foreign change (6 → 7) during the next build breaks the chain: the filter stops where it did.
        let later = FinalizedContexts()
        #expect(later.claimBuild(now: .now))
        later.committed(Self.transition(2, 4, ["b"]))
        later.committed(Self.transition(7, 8, ["c"]))
        later.finishBuild(Self.built([], at: 2))
        #expect(later.mayHaveFinalRows([Self.hash("c")], at: 8) == nil)
    }

    @Test("a filter filled past its capacity asks for a larger one")
    func capacity() {
        let contexts = FinalizedContexts()
        #expect(contexts.claimBuild(now: .now))
        let built = Self.built([], at: 0)
        contexts.finishBuild(built)
        #expect(!contexts.claimBuild(now: .now))
        contexts.committed(.init(from: 0, to: 1, contexts: (0...built.filter.capacity).map { Self.hash("c\($0)") }))
        #expect(contexts.mayHaveFinalRows([Self.hash("c0")], at: 1) == [true])
        #expect(contexts.claimBuild(now: .now))
    }
}
