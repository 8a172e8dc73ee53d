@testable import EventsIngest
import Testing

@Suite("Admission: rate limit, in-flight budget, recent payloads, Kafka availability")
struct AdmissionTests {
    @Test("the rate limiter allows a burst, then refills at the configured rate, per environment")
    func rateLimiter() {
        let limiter = EnvironmentRateLimiter(batchesPerSecond: 2, burst: 3)
        let start = ContinuousClock.now
        for _ in 0..<3 { #expect(limiter.acquire(environmentID: "a", now: start) == nil) }
        #expect(limiter.acquire(environmentID: "a", now: start) == 1)
        #expect(limiter.acquire(environmentID: "b", now: start) == nil, "environments have separate buckets")
        #expect(limiter.acquire(environmentID: "a", now: start + .milliseconds(500)) == nil, "half a second refills one batch")
        #expect(limiter.acquire(environmentID: "a", now: start + .milliseconds(500)) != nil)
        for _ in 0..<3 { #expect(limiter.acquire(environmentID: "a", now: start + .seconds(60)) == nil) }
        #expect(limiter.acquire(environmentID: "a", now: start + .seconds(60)) != nil, "the bucket never holds more than the burst")
        let slow = EnvironmentRateLimiter(batchesPerSecond: 0.1, burst: 1)
        #expect(slow.acquire(environmentID: "a", now: start) == nil)
        #expect(slow.acquire(environmentID: "a", now: start) == 10, "Retry-After says when the next batch fits")
    }

    @Test("the in-flight budget bounds batches and bytes, and resizes reservations")
    func budget() {
        let budget = InFlightBudget(maximumBatches: 2, maximumBytes: 100)
        #expect(budget.reserve(bytes: 60))
        #expect(!budget.reserve(bytes: 41))
        #expect(budget.reserve(bytes: 40))
        #expect(!budget.reserve(bytes: 0), "the batch count is bounded too")
        #expect(!budget.resize(from: 40, to: 41))
        #expect(budget.resize(from: 40, to: 10))
        #expect(budget.current == .init(batches: 2, bytes: 70))
        budget.release(bytes: 60)
        budget.release(bytes: 10)
        #expect(budget.current == .init(batches: 0, bytes: 0))
    }

    @Test("a payload id is published once; a retry after acceptance is a duplicate, after a failure it publishes")
    func recentPayloads() async {
        let recent = RecentPayloads(capacity: 10, windowMilliseconds: 1000)
        #expect(await recent.claim("e\u{0}p1", now: 0) == .publish)
        recent.finish("e\u{0}p1", accepted: true, now: 0)
        #expect(await recent.claim("e\u{0}p1", now: 10) == .duplicate)
        #expect(await recent.claim("other\u{0}p1", now: 10) == .publish, "ids are per environment")
        recent.finish("other\u{0}p1", accepted: false, now: 10)
        #expect(await recent.claim("other\u{0}p1", now: 20) == .publish, "a failed attempt is forgotten")
        recent.finish("other\u{0}p1", accepted: true, now: 20)
        #expect(await recent.claim("e\u{0}p1", now: 1000) == .publish, "ids expire after the window")
        recent.finish("e\u{0}p1", accepted: true, now: 1000)
    }

    @Test("capacity evicts the oldest ids")
    func recentPayloadsCapacity() async {
        let recent = RecentPayloads(capacity: 3, windowMilliseconds: 1_000_000)
        for i in 0..<5 {
            #expect(await recent.claim("k\(i)", now: i) == .publish)
            recent.finish("k\(i)", accepted: true, now: i)
        }
        #expect(recent.acceptedCount == 3)
        #expect(await recent.claim("k4", now: 5) == .duplicate)
        #expect(await recent.claim("k0", now: 5) == .publish)
        recent.finish("k0", accepted: false, now: 5)
    }

    @Test("a retry that arrives while the first attempt is in flight waits for its outcome")
    func concurrentRetry() async {
        let recent = RecentPayloads(capacity: 10, windowMilliseconds: 1000)
        #expect(await recent.claim("k", now: 0) == .publish)
        async let waiting = recent.claim("k", now: 1)
        try? await Task.sleep(for: .milliseconds(50))
        recent.finish("k", accepted: true, now: 2)
        #expect(await waiting == .duplicate)

        #expect(await recent.claim("f", now: 0) == .publish)
        async let retry = recent.claim("f", now: 1)
        try? await Task.sleep(for: .milliseconds(50))
        recent.finish("f", accepted: false, now: 2)
        #expect(await retry == .publish, "the first attempt failed, so the retry publishes")
        recent.finish("f", accepted: true, now: 3)
    }

    @Test("after a failed delivery one probe at a time goes through; a success closes the circuit")
    func availability() {
        let availability = KafkaAvailability()
        #expect(availability.admit() == .send)
        #expect(availability.record(kafkaReachable: false, admission: .send))
        #expect(!availability.isAvailable)
        #expect(availability.admit() == .probe)
        #expect(availability.admit() == .refuse)
        #expect(!availability.record(kafkaReachable: false, admission: .probe))
        #expect(availability.admit() == .probe, "a failed probe lets the next request probe")
        availability.abandon(.probe)
        #expect(availability.admit() == .probe)
        #expect(availability.record(kafkaReachable: true, admission: .probe))
        #expect(availability.admit() == .send)
    }
}
