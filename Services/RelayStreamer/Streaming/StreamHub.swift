import ModelsCore
import NIOCore
import Prometheus

/// The open streams of one event loop, by environment. Everything here runs on that loop: a change
/// is fanned out by one task per loop (not per stream), and the heartbeat is one pass per loop.
final class StreamHub {
    /// The streams of one environment; removal swaps the last one into the freed slot.
    private final class Group {
        var streams: [SSEStream] = []
    }

    private var groups: [String: Group] = [:]
    private let gate: BuildGate
    private let metrics: StreamMetrics
    private let stallTimeout: TimeAmount

    init(gate: BuildGate, metrics: StreamMetrics, stallTimeout: Duration) {
        self.gate = gate
        self.metrics = metrics
        self.stallTimeout = TimeAmount(stallTimeout)
    }

    /// Registers an opened stream.
    func add(_ stream: SSEStream) {
        let group: Group
        if let existing = groups[stream.environment.id] {
            group = existing
        } else {
            group = Group()
            groups[stream.environment.id] = group
        }
        stream.slot = group.streams.count
        group.streams.append(stream)
    }

    /// Unregisters a closed stream.
    func remove(_ stream: SSEStream) {
        guard stream.slot >= 0, let group = groups[stream.environment.id], stream.slot < group.streams.count,
            group.streams[stream.slot] === stream
        else { return }
        let last = group.streams.removeLast()
        if last !== stream {
            group.streams[stream.slot] = last
            last.slot = stream.slot
        }
        stream.slot = -1
        if group.streams.isEmpty { groups[stream.environment.id] = nil }
    }

    /// Sends a change to every stream of its environment that does not have it yet.
    func deliver(_ event: StreamEvent) {
        guard let group = groups[event.environmentID] else { return }
        let start = ContinuousClock.now
        let wallClock = WallClock.nowMilliseconds()
        var sent = 0
        var dropped = 0
        for stream in group.streams where stream.revision < event.revision {
            // The expiry timer may not have fired yet (it runs on this loop, after this task).
            if stream.isExpired(at: wallClock) {
                stream.end()
                continue
            }
            stream.revision = event.revision
            if stream.send(stream.kind == .server ? event.serverFrame : .ping) { sent += 1 } else { dropped += 1 }
        }
        if sent > 0 { metrics.eventsSent.increment(by: Int64(sent)) }
        if dropped > 0 { metrics.eventsDropped.increment(by: Int64(dropped)) }
        metrics.fanOut.record(ContinuousClock.now - start)
    }

    /// Writes the heartbeat to every stream, resyncs streams that caught up with their backlog,
    /// and ends streams whose key expired or whose client stopped reading for too long.
    func heartbeat(now: NIODeadline, wallClock: Int) {
        for group in Array(groups.values) {
            for stream in group.streams {
                if stream.isExpired(at: wallClock) {
                    stream.end()
                    continue
                }
                if stream.isWritable {
                    stream.blockedSince = nil
                    if stream.needsResync {
                        resync(stream)
                    } else {
                        stream.send(.heartbeat)
                    }
                } else if let since = stream.blockedSince {
                    if now - since > stallTimeout {
                        metrics.streamsStalled.increment()
                        stream.end()
                    }
                } else {
                    stream.blockedSince = now
                }
            }
        }
    }

    /// Replaces a stream's dropped events by the full current state: a fresh `put` for server
    /// streams, a `ping` for client-side ones. Retried at the next heartbeat if admission control
    /// refuses to build the payload now.
    func resync(_ stream: SSEStream) {
        guard stream.isWritable else { return }
        switch stream.kind {
        case .server:
            let snapshot = stream.environment.snapshot()
            guard let payload = snapshot.preparedPayload(gate: gate) else { return }
            stream.needsResync = false
            stream.revision = payload.revision
            if stream.send(payload.putFrame) { metrics.resyncs.increment() }
        case .clientSide, .mobile:
            stream.needsResync = false
            stream.revision = stream.environment.revision
            if stream.send(.ping) { metrics.resyncs.increment() }
        }
    }

    /// An environment's record changed: streams whose key was removed or expired end, the others
    /// take the key's new expiry.
    func environmentUpdated(_ environment: EnvironmentRecord, wallClock: Int) {
        guard let group = groups[environment.id] else { return }
        for stream in group.streams {
            guard let hash = stream.credentialHash else { continue }
            let keys = stream.kind == .mobile ? environment.mobileKeys : environment.sdkKeys
            guard let credential = keys.first(where: { $0.sha256 == hash }), credential.isValid(at: wallClock) else {
                stream.end()
                continue
            }
            stream.setExpiry(credential.expiresAt, now: wallClock)
        }
    }

    /// An environment was deleted: its streams end.
    func environmentRemoved(id: String) {
        guard let group = groups[id] else { return }
        for stream in group.streams { stream.end() }
    }
}

/// The stream counters, shared by all hubs.
struct StreamMetrics: Sendable {
    let eventsSent: Counter
    let eventsDropped: Counter
    let resyncs: Counter
    let streamsStalled: Counter
    let rejected: Counter
    let opened: Counter
    /// How long one event loop took to write one change to all its streams of the environment.
    let fanOut: DurationHistogram
}
