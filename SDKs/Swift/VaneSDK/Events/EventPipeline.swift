import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// The client's event processor behind a lock, its flush triggers (every `flushInterval`, and as
/// soon as `flushAt` events are queued) and its sender.
final class EventPipeline: Sendable {
    private let processor: Mutex<EventProcessor>
    private let enabled = Atomic<Bool>(true)
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    private let sender: EventSender
    private let flushInterval: Duration
    private let logger: Logger
    /// Payloads delivered, dropped after the retry, and events dropped for a full queue (for tests and logs).
    let delivered = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)

    init(settings: EventProcessor.Settings, sender: EventSender, flushInterval: Duration, logger: Logger) {
        processor = Mutex(EventProcessor(settings: settings))
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.sender = sender
        self.flushInterval = flushInterval
        self.logger = logger
    }

    /// False once the events endpoint refused the key.
    @inline(__always) var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Unix milliseconds for event timestamps; on Linux from the coarse real-time clock (a few
    /// nanoseconds, millisecond resolution is all events need).
    static var nowMillis: Int64 {
        #if os(Linux)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        #else
        return Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        #endif
    }

    /// Runs `body` on the processor; wakes the flusher when it says the queue is full enough.
    @inline(__always) func record(_ body: (inout EventProcessor, Int64) -> Bool) {
        guard isEnabled else { return }
        let now = Self.nowMillis
        if processor.withLock({ body(&$0, now) }) { wake.yield() }
    }

    /// Sends what is pending now.
    func flush() async {
        guard isEnabled, let payload = processor.withLock({ $0.takePayload() }) else { return }
        switch await sender.send(payload.body) {
        case .delivered:
            delivered.add(1, ordering: .relaxed)
        case .dropped:
            dropped.add(1, ordering: .relaxed)
            logger.warning("\(payload.count) analytics events were dropped after a retry")
        case .disabled:
            enabled.store(false, ordering: .relaxed)
        }
    }

    /// Flushes every `flushInterval` and whenever woken, until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: self.flushInterval) } catch { return }
                    await self.flush()
                }
            }
            group.addTask {
                for await _ in self.wakeups { await self.flush() }
            }
            await group.waitForAll()
        }
    }

    /// Ends the wake-up sequence (the run loop then ends when cancelled).
    func finish() { wake.finish() }
}
